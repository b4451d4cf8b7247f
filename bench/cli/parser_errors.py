"""The command line's parser class: argparse, with a usage error on one line."""

from __future__ import annotations

import argparse
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line naming the command, the problem and where the usage is
    (the house's rule for bad input: one line, exit 2), not argparse's usage block.
    Subcommands inherit the class (`add_subparsers` uses the parent's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")
