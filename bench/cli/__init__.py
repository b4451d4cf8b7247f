"""Command-line entry point: parse arguments (bench/cli/parser.py), call one command
function (one module per command family in this package, each holding its commands'
arguments and handlers), map the outcome to an exit code.

The console is a sink like any file: while a command runs, stdout, stderr, log lines and
a bug's traceback all pass bench.redact.scrub, and the passwords of URLs on the command
line (`--url`, `--db`, `--address`, `--set cluster.address=…`) are declared secrets, so a
library's error text that quotes one cannot print it.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TextIO, cast

from bench.cli.parser import build_parser
from bench.errors import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, UserError, one_line
from bench.redact import RedactingFormatter, RedactingStream, declare, scrub, url_passwords
from bench.schema.text import bounded

MAX_ERROR = 2_000  # characters of one error line
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _setup_logging(verbose: bool) -> None:
    """INFO for vlm-bench's own loggers, WARNING for the libraries (httpx, evalscope,
    matplotlib, …) whose INFO lines drown the tables; -v: DEBUG and INFO."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format=_FORMAT,
        stream=sys.stderr,
    )
    # basicConfig does nothing when called again in one process (tests): set levels anyway.
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("bench").setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter(_FORMAT))


def _scrubbed_excepthook(
    kind: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """A bug's traceback, scrubbed: its messages may quote a secret like any other text."""
    sys.stderr.write(scrub("".join(traceback.format_exception(kind, exc, tb))))


@contextmanager
def _redacted_console(argv: list[str]) -> Iterator[None]:
    """stdout and stderr scrubbed while the command runs (put back after: tests call main
    several times in one process); the command line's URL passwords declared. The
    traceback hook stays: a bug's exception reaches it only after this block is left."""
    declare({p for item in argv for p in url_passwords(item)})
    saved = sys.stdout, sys.stderr
    sys.stdout = cast(TextIO, RedactingStream(sys.stdout))
    sys.stderr = cast(TextIO, RedactingStream(sys.stderr))
    sys.excepthook = _scrubbed_excepthook
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with _redacted_console(argv):
        return _main(argv)


def _main(argv: list[str]) -> int:
    args = build_parser(argv).parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except UserError as exc:
        # Bounded: a message may quote a field of a hostile file (a 10 MB scenario name).
        print(f"vlm-bench: error: {bounded(one_line(exc), MAX_ERROR)}", file=sys.stderr)
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
