"""Which store a `--db` value or VLM_BENCH_DB names, checked before anything is opened or
created, and how a message may show it (docs/store.md, "Which store").

Accepted: a SQLite file as a plain path or `sqlite:///PATH`, and PostgreSQL as
`postgresql://USER[:PASSWORD]@HOST[:PORT]/DB` (`postgres://`, `postgresql+psycopg://`, a
unix socket through `?host=/run/postgresql`). Everything else is a UserError naming the
flag and the value (its password redacted), raised before a folder or file is made: an
empty value, another scheme (`file:/x.db`, `mysql://…`), user-info, a host or options on
a SQLite URL, an in-memory SQLite database, a folder, FIFO or device given as the file.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import sqlalchemy as sa

from bench.errors import UserError, one_line
from bench.redact import redact_text

ENV = "VLM_BENCH_DB"
OFF = "off"  # VLM_BENCH_DB=off: no indexing at the end of `vlm-bench run`
DEFAULT_PATH = Path("reports") / "vlm-bench.db"
# Anything that starts like a URL scheme (`file:`, `sqlite:`, `postgresql://`): a plain
# path never does (a file whose name has a colon is given as ./NAME).
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_POSTGRES = {"postgresql", "postgres", "postgresql+psycopg"}
USAGE = "give a SQLite file path, sqlite:///PATH or postgresql://USER@HOST/DB"


def configured() -> str | None:
    """VLM_BENCH_DB when set to a store (not empty, not `off`). An empty value counts as
    not set, as a shell's `VLM_BENCH_DB= cmd` means."""
    value = os.environ.get(ENV, "").strip()
    return None if not value or value.lower() == OFF else value


def target(url_or_path: str | Path | None, flag: str = "--db") -> str:
    """The store meant: the argument, else VLM_BENCH_DB, else the default file. An
    argument given but empty (`--db ""`) is a UserError, never the default."""
    if url_or_path is None:
        return configured() or str(DEFAULT_PATH)
    text = str(url_or_path).strip()
    if not text:
        raise UserError(f"{flag}: empty; {USAGE}")
    return text


def _secrets(text: str) -> set[str]:
    """The password in a URL (user-info or `?password=`), to hide wherever it appears."""
    try:
        url = sa.make_url(text)
    except Exception:  # a URL SQLAlchemy cannot parse: redact_text hides user-info anyway
        return set()
    found = {url.password or ""} | {str(v) for k, v in url.query.items() if k == "password"}
    return {s for s in found if s}


def shown(text: str) -> str:
    """A store URL or path as a message may show it: password and user-info redacted."""
    return one_line(redact_text(text, _secrets(text)))


def engine_url(text: str, flag: str = "--db") -> sa.URL:
    """The SQLAlchemy URL for a store argument; UserError naming `flag` and the store
    (redacted) for anything but a SQLite path, `sqlite:///PATH` or a PostgreSQL URL."""
    if not text.strip():
        raise UserError(f"{flag}: empty; {USAGE}")
    if "\0" in text:
        raise UserError(f"{flag} {shown(text)}: contains a NUL byte; {USAGE}")
    match = _SCHEME.match(text)
    if match is None:
        return sqlite_file(Path(text), flag)
    scheme = match.group(1).lower()
    if scheme not in _POSTGRES | {"sqlite"}:
        raise UserError(
            f"{flag} {shown(text)}: unsupported database {scheme!r}; {USAGE} "
            "(a file whose name has a colon: ./NAME)"
        )
    if not text[match.end() :].startswith("//"):
        raise UserError(f"{flag} {shown(text)}: not a database URL; {USAGE}")
    try:
        url = sa.make_url(text)
    except Exception:
        raise UserError(f"{flag} {shown(text)}: not a database URL; {USAGE}") from None
    if scheme == "sqlite":
        return _sqlite_url(url, text, flag)
    if not url.database:
        raise UserError(f"{flag} {shown(text)}: no database name; {USAGE}")
    return url.set(drivername="postgresql+psycopg")


def _sqlite_url(url: sa.URL, text: str, flag: str) -> sa.URL:
    """`sqlite:///PATH` only: a SQLite file has no user, password, host or port, and an
    in-memory database would keep nothing."""
    if url.username or url.password or url.host or url.port:
        raise UserError(
            f"{flag} {shown(text)}: a SQLite URL takes no user, password or host; "
            "give sqlite:///PATH (sqlite:////ABSOLUTE/PATH)"
        )
    if url.query:
        raise UserError(f"{flag} {shown(text)}: options on a SQLite URL are not supported")
    if url.database in (None, "", ":memory:"):
        raise UserError(
            f"{flag} {shown(text)}: no file (an in-memory store keeps nothing); give sqlite:///PATH"
        )
    return sqlite_file(Path(url.database), flag)


def sqlite_file(path: Path, flag: str = "--db") -> sa.URL:
    """The URL of a SQLite file; UserError for a folder, a FIFO, a device or a socket
    (SQLite would hang on a FIFO or fail with a message about something else)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return sa.URL.create("sqlite", database=str(path))
    except OSError as exc:
        raise UserError(f"{flag} {shown(str(path))}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise UserError(
            f"{flag} {shown(str(path))}: is a folder (give the SQLite file, e.g. {DEFAULT_PATH})"
        )
    if not stat.S_ISREG(mode):
        raise UserError(f"{flag} {shown(str(path))}: not a regular file (a FIFO or device?)")
    return sa.URL.create("sqlite", database=str(path))
