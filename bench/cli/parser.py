"""The parser of `vlm-bench`: the top-level parser (its description, --version, -v) and
the registration of the commands, a table from each command's name to the function in its
module that declares it. Each command's flags, help and handler live together in that
module (run.py, tables.py, …); what several commands share is in bench/cli/options.py.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench import __version__
from bench.cli import capacity, dashboard, fleet, gate, history, run, store, tables, tools
from bench.cli.options import OneLineParser

Declare = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]

# Command name -> its declaration; the order is `vlm-bench --help`'s.
COMMANDS: dict[str, Declare] = {
    "sim": tools.add_sim,
    "run": run.add_run,
    "fleet": fleet.add_fleet,
    "check": run.add_check,
    "offline": run.add_offline,
    "import-table": tables.add_import_table,
    "compare": tables.add_compare,
    "release-table": tables.add_release_table,
    "gate": gate.add_gate,
    "baseline": gate.add_baseline,
    "validate": tools.add_validate,
    "report": tools.add_report,
    "dashboard": dashboard.add_dashboard,
    "schema": tools.add_schema,
    "tiny-model": tools.add_tiny_model,
    "tokenizer": tools.add_tokenizer,
    "db": store.add_db,
    "export": store.add_export,
    "history": history.add_history,
    "capacity": capacity.add_capacity,
}


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


def build_parser() -> argparse.ArgumentParser:
    """The parser; each subcommand's `func` is its handler."""
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
    for declare in COMMANDS.values():
        declare(sub)
    _verbose_everywhere(parser)
    return parser
