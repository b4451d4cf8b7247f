"""Opening the store: which database (bench/store/url.py checks the argument first), its
schema brought to the newest migration, and the transactions every writer goes through.

Where the store is (docs/store.md): the `--db` a command was given, else the environment
variable VLM_BENCH_DB, else the SQLite file reports/vlm-bench.db. A plain path is a SQLite
file; `postgresql://…` (or `postgres://…`) is PostgreSQL through psycopg 3. The URL may
carry a password, so it is shown only through `bench.redact` (`Store.label`).

Two processes may share a store (two CI jobs indexing at once). Every write, and the
schema's creation and migrations, run in a transaction that holds the store's write lock
first: on SQLite `BEGIN IMMEDIATE` (the database's own writer lock, waited for up to
`BUSY_TIMEOUT_S`), on PostgreSQL a transaction-scoped advisory lock. Whoever comes second
then sees the first's committed schema and rows, so nothing is created twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa

from bench.errors import UserError, one_line
from bench.redact import redact_text
from bench.store.tables import HEAD, METADATA
from bench.store.url import (  # re-exported: the store's callers import them from here
    DEFAULT_PATH,
    ENV,
    OFF,
    _secrets,
    configured,
    engine_url,
    shown,
    target,
)

__all__ = ["DEFAULT_PATH", "ENV", "OFF", "configured", "engine_url", "shown", "target"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_S = 30  # how long a SQLite writer waits for another's transaction
_WRITE = "vlm_bench_write"  # execution option: this transaction writes (BEGIN IMMEDIATE)
# The PostgreSQL advisory lock every writer of a store takes (a fixed 64-bit key).
LOCK_KEY = int.from_bytes(hashlib.sha256(b"vlm-bench store").digest()[:8], "big", signed=True)
OUR_TABLES = ("runs", "levels", "level_metrics", "level_checks")


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


def _sqlite_path(url: sa.URL) -> Path | None:
    """The file of a SQLite store; None for PostgreSQL."""
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
    schema upgraded to the newest migration. `must_exist` (the commands that only read):
    a SQLite file that is not there, or a database without a store in it, is an error
    instead of a new, empty store. `flag`: where the store was named, for error messages
    (default: --db, VLM_BENCH_DB or "store")."""
    flag = flag or _flag(url_or_path)
    text = target(url_or_path, flag)
    label = f"{flag} {shown(text)}"
    url = engine_url(text, flag)
    path = _sqlite_path(url)
    if must_exist and path is not None and not path.is_file():
        raise UserError(f"{label}: no such store (make it with `vlm-bench db index`)")
    _make_parent(url, label)
    try:
        engine = _engine(url)
    except ModuleNotFoundError:
        raise UserError(
            f"{label}: PostgreSQL needs psycopg (pip install 'vlm-bench[postgres]')"
        ) from None
    try:
        migrate(engine, create=not must_exist)
        check_tables(engine)
    except (sa.exc.SQLAlchemyError, StoreError) as exc:
        engine.dispose()
        raise StoreError(f"{label}: cannot open the store: {reason(exc, text)}") from None
    return Store(engine, shown(text))


def _engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() != "sqlite":
        return sa.create_engine(url, connect_args={"connect_timeout": 10})
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
    # pysqlite begins a transaction only before an INSERT or UPDATE, so DDL and reads run
    # outside one; SQLAlchemy emits BEGIN itself instead (its documented recipe), and
    # BEGIN IMMEDIATE for a writer: the writer lock is taken up front, so two writers
    # queue instead of one failing when both try to upgrade a read lock.
    sa.event.listen(engine, "connect", _autocommit_driver)
    sa.event.listen(engine, "begin", _begin)
    return engine


def _autocommit_driver(dbapi_connection: Any, record: Any) -> None:
    dbapi_connection.isolation_level = None


def _begin(conn: sa.Connection) -> None:
    write = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def writing(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction holding the store's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL:
    an advisory lock until commit): writers of one store, in any process, run one at a
    time, and each sees what the one before it committed."""
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE: True})
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(LOCK_KEY)))
            yield conn


@contextmanager
def reading(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that sees one state of the store, even while another process
    indexes (PostgreSQL: REPEATABLE READ; a SQLite read transaction is a snapshot)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _flag(url_or_path: str | Path | None) -> str:
    """Where the store was named, for messages: --db, VLM_BENCH_DB or the default."""
    return "--db" if url_or_path is not None else (ENV if configured() else "store")


def store_target(url_or_path: str | Path | None) -> str:
    """`target`, checked as a store (never a folder of runs): for a command that passes
    it on to `bench.store.frame.load_runs`, which would read a folder's run.json files."""
    flag = _flag(url_or_path)
    text = target(url_or_path, flag)
    engine_url(text, flag)
    return text


def reason(exc: BaseException, text: str) -> str:
    """The database's own one-line reason for `exc`, with the URL's secrets hidden."""
    orig = getattr(exc, "orig", None) or exc
    first = next((line for line in str(orig).splitlines() if line.strip()), type(orig).__name__)
    return one_line(redact_text(first.strip(), _secrets(text)))


def revision(conn: sa.Connection) -> str | None:
    """The migration the store is at (Alembic's own table); None for an empty database."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: sa.Engine, create: bool = True) -> None:
    """`alembic upgrade head` on `engine`, programmatically (no alembic.ini), under the
    write lock; nothing when the store is at HEAD already. `create` False: a database
    without a store in it is a StoreError rather than a new store."""
    with reading(engine) as conn:
        if revision(conn) == HEAD:
            return
    with writing(engine) as conn:
        found = revision(conn)
        if found == HEAD:  # another process migrated it while this one waited
            return
        if found is None:
            _refuse_foreign(conn, create)
        _upgrade(conn)


def _refuse_foreign(conn: sa.Connection, create: bool) -> None:
    """A database with tables of the store's names but no migration record is not a
    vlm-bench store (or a damaged one): never written into."""
    tables = set(sa.inspect(conn).get_table_names())
    ours = sorted(tables & set(OUR_TABLES))
    if ours:
        raise StoreError(
            f"not a vlm-bench store: it has table {ours[0]} but no alembic_version "
            "(a foreign or damaged database; give a new file or database)"
        )
    if not create:
        raise StoreError("no vlm-bench store in it (make one with `vlm-bench db index`)")


def _upgrade(connection: sa.Connection) -> None:
    # Imported here: Alembic is needed only when a store is new or older than this code.
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    except CommandError as exc:  # a revision this vlm-bench does not know
        raise StoreError(f"{exc} (written by a newer vlm-bench?)") from None


def check_tables(engine: sa.Engine) -> None:
    """The store's tables and columns are those this vlm-bench reads (tables.py): a table
    or column dropped or renamed is a StoreError naming it, not a failure mid-query."""
    with reading(engine) as conn:
        inspector = sa.inspect(conn)
        present = set(inspector.get_table_names())
        for table in METADATA.sorted_tables:
            if table.name not in present:
                raise StoreError(f"not a vlm-bench store: table {table.name} is missing")
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            missing = [c.name for c in table.columns if c.name not in columns]
            if missing:
                raise StoreError(
                    f"not a vlm-bench store: column {table.name}.{missing[0]} is missing"
                )
