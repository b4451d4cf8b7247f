"""The one user-facing error type and its exit codes.

Anything a user can get wrong (a file, a flag, a server's answer) raises `UserError`
with a one-line message; the CLI prints it and exits 2. Everything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

EXIT_OK = 0
EXIT_REGRESSION = 1  # gate: a confirmed regression
EXIT_RUN_FAILED = 1  # run: a level failed, or the server died or never got ready
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a reader that left


class UserError(Exception):
    """A mistake in input the user controls; the message is shown as is."""

    exit_code = EXIT_USER_ERROR


def one_line(message: object) -> str:
    """The message on one line: a user's field name or value may hold a newline or other
    control characters, which would split the error or garble the terminal."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in str(message)
    )


class ServerError(UserError):
    """The server under test failed (never ready, died, refused the warm-up): exit 1."""

    exit_code = EXIT_RUN_FAILED


def describe_validation_error(
    source: Path | str, exc: ValidationError, root: type[BaseModel]
) -> str:
    """One line: the file, the first bad field as a dotted path (discriminator tags of
    tagged unions dropped), the problem, and for an unknown field the allowed ones."""
    err = exc.errors()[0]
    path, parent = _walk(root, err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed = sorted(parent.model_fields) if parent is not None else []
        msg = f"unknown field; allowed: {', '.join(allowed)}" if allowed else "unknown field"
    elif kind == "missing":
        msg = "field required"
    elif kind == "union_tag_invalid":
        msg = f"{_unquote(ctx['discriminator'])} must be one of {_unquote(ctx['expected_tags'])}"
    elif kind == "union_tag_not_found":
        msg = f"{_unquote(ctx['discriminator'])} is required"
    else:
        msg = re.sub(r"^Value error, ", "", err["msg"])
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{source}: {path + ': ' if path else ''}{msg}{more}"


def _unquote(text: str) -> str:
    return text.replace("'", "")


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation admits (through Optional, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _walk(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[str, type[BaseModel] | None]:
    """The dotted field path of `loc` and the model that holds its last element."""
    parts: list[str] = []
    model: type[BaseModel] | None = root
    union: list[type[BaseModel]] = []
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if union and isinstance(part, str):  # pydantic puts the tag into the path
            model = next(
                (m for m in union if get_args(m.model_fields["kind"].annotation) == (part,)), None
            )
            union = []
            continue
        parts.append(str(part))
        if last or isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        members = _models_in(field.annotation) if field is not None else []
        union = members if len(members) > 1 else []
        model = members[0] if len(members) == 1 else None
    return ".".join(parts), model
