"""Names and output paths from the command line, made safe before anything is written.

A name (`baseline save --as NAME`, `import-table --name NAME`) becomes a folder under a
parent the user did not name, so it must stay one plain path component: `../../x` or
`/etc` would write outside that parent. Output folders that cannot be written (under a
file, read-only, disk full) are the user's to fix: one line naming the path, not a
traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.errors import UserError

# One path component: no separator, no leading dot (no `..`, no hidden folder), no NUL,
# no shell or Windows specials; short enough for every file system.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def is_safe_name(text: str) -> bool:
    return bool(_NAME.fullmatch(text)) and ".." not in text


def safe_name(text: str, flag: str) -> str:
    """`text` when it is a safe folder name, else UserError naming `flag`."""
    if not is_safe_name(text):
        shown = repr(text) if len(text) <= 60 else repr(text[:57] + "...")
        raise UserError(
            f"{flag} {shown}: a name must be 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (no '/', no '..')"
        )
    return text


@contextmanager
def writing(path: Path, flag: str = "--out") -> Iterator[None]:
    """Turn an OSError while writing under `path` into one UserError line."""
    try:
        yield
    except OSError as exc:
        where = exc.filename or path
        raise UserError(f"{flag} {path}: cannot write {where}: {exc.strerror or exc}") from None
