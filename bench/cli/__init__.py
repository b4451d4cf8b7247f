"""Command-line entry point: parse arguments (bench/cli/parser.py), call one command
function (one module per command family in this package), map the outcome to an exit code.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable

from bench.cli.capacity import cmd_capacity
from bench.cli.dashboard import cmd_dashboard
from bench.cli.fleet import cmd_fleet
from bench.cli.gate import cmd_baseline, cmd_gate
from bench.cli.history import cmd_history
from bench.cli.parser import build_parser as _build
from bench.cli.run import cmd_check, cmd_offline, cmd_run
from bench.cli.store import cmd_db_index, cmd_db_prune, cmd_export
from bench.cli.tables import cmd_compare, cmd_import_table, cmd_release_table
from bench.cli.tools import (
    cmd_report,
    cmd_schema,
    cmd_sim,
    cmd_tiny_model,
    cmd_tokenizer,
    cmd_validate,
)
from bench.errors import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, UserError, one_line

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "sim": cmd_sim,
    "run": cmd_run,
    "capacity": cmd_capacity,
    "check": cmd_check,
    "offline": cmd_offline,
    "import-table": cmd_import_table,
    "compare": cmd_compare,
    "release-table": cmd_release_table,
    "gate": cmd_gate,
    "baseline": cmd_baseline,
    "validate": cmd_validate,
    "report": cmd_report,
    "schema": cmd_schema,
    "dashboard": cmd_dashboard,
    "history": cmd_history,
    "db index": cmd_db_index,
    "db prune": cmd_db_prune,
    "export": cmd_export,
    "tiny-model": cmd_tiny_model,
    "tokenizer": cmd_tokenizer,
    "fleet": cmd_fleet,
}


def build_parser() -> argparse.ArgumentParser:
    """The full parser, each subcommand bound to its function."""
    return _build(COMMANDS)


def _setup_logging(verbose: bool) -> None:
    """INFO for vlm-bench's own loggers, WARNING for the libraries (httpx, evalscope,
    matplotlib, …) whose INFO lines drown the tables; -v: DEBUG and INFO."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # basicConfig does nothing when called again in one process (tests): set levels anyway.
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("bench").setLevel(logging.DEBUG if verbose else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"vlm-bench: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader left (`vlm-bench … | head`): no traceback, and nothing more to write;
        # stdout points at /dev/null so the interpreter's own final flush cannot fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
