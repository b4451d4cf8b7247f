"""The one user-facing error type and its exit codes.

Anything a user can get wrong (a file, a flag, a server's answer) raises `UserError`
with a one-line message; the CLI prints it and exits 2. Everything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

EXIT_OK = 0
EXIT_REGRESSION = 1  # gate: a confirmed regression
EXIT_RUN_FAILED = 1  # run: a level failed, or the server died or never got ready
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A mistake in input the user controls; the message is shown as is."""

    exit_code = EXIT_USER_ERROR


class ServerError(UserError):
    """The server under test failed (never ready, died, refused the warm-up): exit 1."""

    exit_code = EXIT_RUN_FAILED


def format_validation_error(source: Path | str, exc: ValidationError) -> str:
    """One line: the file, the first bad field as a dotted path, and what is allowed."""
    err = exc.errors()[0]
    loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "missing":
        msg = "field required"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{source}: {loc}: {msg}{more}"
