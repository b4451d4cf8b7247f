"""The parser of `vlm-bench`: the top-level parser (its description, --version, -v) and
the registration of the commands, a table from each command's name to the module and
function that declare it. Each command's flags, help and handler live together in that
module (run.py, tables.py, …); what several commands share is in bench/cli/options.py.

A command's module is imported only when that command is asked for: `vlm-bench sim`
(a child of every simulated run) imports the simulator and not pandas, matplotlib and
the store; `vlm-bench --help`, or a line naming no known command, declares them all.
This table is the one place bench/ imports a bench module by name (tests/unit/test_layers.py
checks that every entry is a bench.cli module).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from bench import __version__
from bench.cli.options import OneLineParser

Declare = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

# Command name -> (module in bench/cli/, its declaring function); the order is
# `vlm-bench --help`'s.
COMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("sim", "add_sim"),
    "run": ("run", "add_run"),
    "fleet": ("fleet", "add_fleet"),
    "check": ("run", "add_check"),
    "offline": ("run", "add_offline"),
    "import-table": ("tables", "add_import_table"),
    "compare": ("tables", "add_compare"),
    "release-table": ("tables", "add_release_table"),
    "gate": ("gate", "add_gate"),
    "baseline": ("gate", "add_baseline"),
    "validate": ("tools", "add_validate"),
    "report": ("tools", "add_report"),
    "dashboard": ("dashboard", "add_dashboard"),
    "schema": ("tools", "add_schema"),
    "tiny-model": ("tools", "add_tiny_model"),
    "tokenizer": ("tools", "add_tokenizer"),
    "db": ("store", "add_db"),
    "export": ("store", "add_export"),
    "history": ("history", "add_history"),
    "capacity": ("capacity", "add_capacity"),
}


def declaration(command: str) -> Declare:
    """The function that declares `command`, its module imported now."""
    module, function = COMMANDS[command]
    declare: Declare = getattr(importlib.import_module(f"bench.cli.{module}"), function)
    return declare


def _asked_for(argv: list[str] | None) -> list[str]:
    """The commands to declare: the one the line names (the first word that is not an
    option: the top-level parser's only options are flags), or every command."""
    first = next((arg for arg in argv or [] if not arg.startswith("-")), None)
    return [first] if first in COMMANDS else list(COMMANDS)


def _verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """Give every (nested) subcommand its own -v, so `vlm-bench run -v X` works as well as
    `vlm-bench -v run X`. SUPPRESS as the default keeps a subparser that was not given -v
    from resetting the value the top-level parser set."""
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                child.add_argument(
                    "-v",
                    "--verbose",
                    action="store_true",
                    default=argparse.SUPPRESS,
                    help="debug logging for vlm-bench, info for the libraries it uses",
                )
                _verbose_everywhere(child)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for the command line `argv` (None: every command); each subcommand's
    `func` is its handler."""
    parser: argparse.ArgumentParser = OneLineParser(
        prog="vlm-bench",
        description="Benchmark vision-language-model serving: sweep concurrency levels with "
        "evalscope against a server (started from a scenario file, or already running: "
        "`run --url`), then report, compare and gate the runs. `COMMAND --help` for each.",
        epilog="Exit codes: 0 ok, 1 run failed or regression, 2 bad input, "
        "3 gate --strict suspect, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"vlm-bench {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug logging for vlm-bench, info for the libraries it uses (anywhere on the line)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _asked_for(argv):
        declaration(command)(sub)
    _verbose_everywhere(parser)
    return parser
