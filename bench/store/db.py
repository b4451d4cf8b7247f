"""Opening the store: which database, its URL made safe to show, and its schema brought
to the newest migration.

Where the store is (docs/store.md): the `--db` a command was given, else the environment
variable VLM_BENCH_DB, else the SQLite file reports/vlm-bench.db. A plain path is a SQLite
file; `postgresql://…` (or `postgres://…`) is PostgreSQL through psycopg 3. The URL may
carry a password, so it is shown only through `bench.redact` (`Store.label`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

from bench.errors import UserError, one_line
from bench.redact import redact_text
from bench.store.tables import HEAD

ENV = "VLM_BENCH_DB"
OFF = "off"  # VLM_BENCH_DB=off: no indexing at the end of `vlm-bench run`
DEFAULT_PATH = Path("reports") / "vlm-bench.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_POSTGRES = {"postgresql", "postgres", "postgresql+psycopg"}


class StoreError(UserError):
    """The database failed (unreachable, locked, read-only, not a store, a schema newer
    than this vlm-bench): one line naming the store, exit 2."""


@dataclass
class Store:
    """An open store: the engine, and how to name it in a message (no password)."""

    engine: sa.Engine
    label: str

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def configured() -> str | None:
    """VLM_BENCH_DB when set to a store (not empty, not `off`)."""
    value = os.environ.get(ENV, "").strip()
    return None if not value or value.lower() == OFF else value


def target(url_or_path: str | Path | None) -> str:
    """The store meant: the argument, else VLM_BENCH_DB, else the default file."""
    if url_or_path is not None and str(url_or_path).strip():
        return str(url_or_path).strip()
    return configured() or str(DEFAULT_PATH)


def _secrets(text: str) -> set[str]:
    """The password in a URL (user-info or `?password=`), to hide wherever it appears."""
    try:
        url = sa.make_url(text)
    except Exception:  # a URL SQLAlchemy cannot parse: hide the user-info as a whole
        return set()
    found = {url.password or ""} | {str(v) for k, v in url.query.items() if k == "password"}
    return {s for s in found if s}


def shown(text: str) -> str:
    """A store URL or path as a message may show it: password and user-info redacted."""
    return one_line(redact_text(text, _secrets(text)))


def engine_url(text: str, flag: str = "--db") -> sa.URL:
    """The SQLAlchemy URL for a store argument; UserError naming `flag` and the store
    (redacted)."""
    match = _SCHEME.match(text)
    if match is None:
        return _sqlite_file(Path(text), flag)
    scheme = match.group(1).lower()
    try:
        url = sa.make_url(text)
    except Exception:
        raise UserError(f"{flag} {shown(text)}: not a database URL") from None
    if scheme in _POSTGRES:
        return url.set(drivername="postgresql+psycopg")
    if scheme == "sqlite":
        return url
    raise UserError(
        f"{flag} {shown(text)}: unsupported database {scheme!r}; "
        "give a file path (SQLite), sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def _sqlite_file(path: Path, flag: str) -> sa.URL:
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a folder (give the SQLite file, e.g. {DEFAULT_PATH})")
    return sa.URL.create("sqlite", database=str(path))


def _sqlite_path(url: sa.URL) -> Path | None:
    """The file of a SQLite store; None for PostgreSQL or an in-memory database."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _make_parent(url: sa.URL, label: str) -> None:
    """A new SQLite file's folder is made; one that cannot be is the user's to fix."""
    path = _sqlite_path(url)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{label}: cannot create its folder: {exc.strerror or exc}") from None


def open_store(
    url_or_path: str | Path | None = None, must_exist: bool = False, flag: str | None = None
) -> Store:
    """The store at `url_or_path` (None: VLM_BENCH_DB, else reports/vlm-bench.db), its
    schema upgraded to the newest migration. `must_exist`: a SQLite file that is not
    there is an error instead of a new, empty store. `flag`: where the store was named,
    for error messages (default: --db, VLM_BENCH_DB or "store")."""
    text = target(url_or_path)
    if flag is None:
        given = url_or_path is not None and str(url_or_path).strip()
        flag = "--db" if given else ("VLM_BENCH_DB" if configured() else "store")
    label = f"{flag} {shown(text)}"
    url = engine_url(text, flag)
    path = _sqlite_path(url)
    if must_exist and path is not None and not path.is_file():
        raise UserError(f"{label}: no such store (make it with `vlm-bench db index`)")
    _make_parent(url, label)
    try:
        engine = sa.create_engine(url, connect_args=_connect_args(url))
    except ModuleNotFoundError:
        raise UserError(
            f"{label}: PostgreSQL needs psycopg (pip install 'vlm-bench[postgres]')"
        ) from None
    try:
        migrate(engine)
    except (sa.exc.SQLAlchemyError, StoreError) as exc:
        engine.dispose()
        raise StoreError(f"{label}: cannot open the store: {reason(exc, text)}") from None
    return Store(engine, shown(text))


def _connect_args(url: sa.URL) -> dict[str, object]:
    if url.get_backend_name() == "sqlite":
        return {"timeout": 10}  # another process indexing: wait for its transaction
    return {"connect_timeout": 10}


def reason(exc: BaseException, text: str) -> str:
    """The database's own one-line reason for `exc`, with the URL's secrets hidden."""
    orig = getattr(exc, "orig", None) or exc
    first = next((line for line in str(orig).splitlines() if line.strip()), type(orig).__name__)
    return one_line(redact_text(first.strip(), _secrets(text)))


def revision(engine: sa.Engine) -> str | None:
    """The migration the store is at (Alembic's own table); None for an empty database."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: sa.Engine) -> None:
    """`alembic upgrade head` on `engine`, programmatically (no alembic.ini); nothing
    when the store is at HEAD already."""
    if revision(engine) == HEAD:
        return
    # Imported here: Alembic is needed only when a store is new or older than this code.
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except CommandError as exc:  # a revision this vlm-bench does not know
            raise StoreError(f"{exc} (written by a newer vlm-bench?)") from None
