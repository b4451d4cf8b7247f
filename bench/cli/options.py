"""What every command's arguments are built from: the parser class (a usage error on one
line), the argument types several commands share, and the options several commands
declare alike (--out, --set, --json). Each command's own flags live with its handler, in
its module; bench/cli/parser.py assembles the commands. (Apart from parser.py because the
command modules import these and parser.py imports the command modules.)
"""

from __future__ import annotations

import argparse
import math
from typing import Any, NoReturn

from bench.errors import UserError
from bench.safeyaml import check_values, loads
from bench.schema.scenario_base import MAX_NUMBER


class OneLineParser(argparse.ArgumentParser):
    """A usage error is one line naming the command, the problem and where the usage is
    (the house's rule for bad input: one line, exit 2), not argparse's usage block.
    Subcommands inherit the class (`add_subparsers` uses the parent's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def finite_float(text: str) -> float:
    """A non-negative finite number: `nan`, `inf` and `-1` parse as floats but mean nothing."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A count: a whole number from 1 to the largest any scenario count may be."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")

    if value > MAX_NUMBER:  # the largest any scenario count may be
        raise argparse.ArgumentTypeError(f"expected at most {MAX_NUMBER}, got {value}")
    return value


def add_out(parser: argparse.ArgumentParser, help_: str, alias: bool = True) -> None:
    """`--out DIR` is every command's "folder to write into"; `--output-dir` stays as a
    hidden alias where it existed (run, offline) so that older scripts keep working."""
    parser.add_argument("--out", metavar="DIR", help=help_)
    if alias:
        parser.add_argument("--output-dir", dest="out", help=argparse.SUPPRESS)


def add_json(parser: argparse.ArgumentParser, shape: str) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help=f"print only a JSON summary on stdout ({shape}); tables go to stderr",
    )


def add_set(parser: argparse.ArgumentParser, what: str, example: str) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help=f"{what}, dotted ({example})",
    )


def parse_set(items: list[str]) -> dict[str, Any]:
    """--set KEY=VALUE items as scenario overrides; each value parsed as YAML, with the
    scenario loader's limits and checks."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set expects KEY=VALUE, got {item!r}")
        # The scenario loader's limits and checks (tags, NUL, NaN, dates) apply to values too.
        out[key] = loads(value, f"--set {key}")
        check_values(out[key], "--set", key, sep=" ")
    return out
