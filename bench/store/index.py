"""Indexing run folders into the store: find run.json files, and (re)write each run's rows
idempotently.

A run whose run.json has the digest already stored is left as it is; a changed one has
its rows replaced in one transaction; a run.json that is not a run (bad JSON, a field of
the wrong type, a version this vlm-bench cannot read) is skipped with the one-line
reason `bench.schema.runfile.read_run` gives, naming the file.

Each run is written under the store's write lock (bench.store.db.writing), after its
digest is looked up again there: two processes indexing the same runs at once both
succeed, the second finding the first's rows unchanged. A run.json still saying
`running` whose process is gone is stored as failed (`settled`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.errors import UserError
from bench.redact import scrub_row
from bench.safepath import UnreadableFile, read_regular
from bench.schema.results import RunResult, RunStatus
from bench.schema.runfile import MAX_RUN_BYTES, read_run
from bench.store.db import Store, StoreError, reading, reason, writing
from bench.store.requestrows import insert_requests
from bench.store.rows import RunRows, file_digest, run_dir_key, run_rows
from bench.store.tables import CHILDREN, LEVEL_CHECKS, LEVEL_METRICS, LEVELS, RUNS

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
LOCK_FILE = ".lock"  # bench/measure/lock.py: held by the process writing the run
RUNNING, FAILED = str(RunStatus.RUNNING), str(RunStatus.FAILED)
STOPPED = "stopped without finishing"  # the reason of a run stored as failed by `settled`


@dataclass
class IndexSummary:
    """What an index pass did: runs (re)indexed, left unchanged, and skipped (why)."""

    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one line each, naming the file

    def line(self, store: Store) -> str:
        skipped = f"skipped {len(self.skipped)}"
        if self.skipped:
            skipped += " (bad run.json, named above)"
        return (
            f"indexed {len(self.indexed)}, unchanged {len(self.unchanged)}, {skipped} "
            f"into {store.label}"
        )

    def to_dict(self, store: Store) -> dict[str, Any]:
        return {
            "store": store.label,
            "indexed": self.indexed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
        }


def _unreadable_folder(exc: OSError) -> None:
    """A folder the search cannot list is skipped, but named (its runs would go unseen)."""
    log.warning("skipped %s: cannot list the folder: %s", exc.filename, exc.strerror or exc)


def find_runs(path: Path) -> list[Path]:
    """Every run.json at or under `path` (a run.json, a run folder, or a tree of them),
    in path order. A run's raw/ folder and hidden folders are not searched."""
    if path.is_file() or (path.exists() and not path.is_dir()):
        return [path]  # a FIFO or device too: its reader refuses it in one line
    if not path.is_dir():
        raise UserError(f"{path}: no such file or folder")
    found = []
    for folder, dirs, files in os.walk(path, onerror=_unreadable_folder):
        here = RUN_FILE in files
        if RUN_FILE in dirs:  # named, not silently passed over
            log.warning("skipped %s: a folder, not a run.json", Path(folder) / RUN_FILE)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (here and d == "raw"))
        if here:
            found.append(Path(folder) / RUN_FILE)
    return sorted(found)


def not_a_run(run_dir: Path) -> str:
    """What a stored run folder is when it holds no run.json, for a message: "not on
    disk", "a file, not a run folder", "a folder without run.json (not a run folder)"."""
    try:
        if not run_dir.exists():
            return "not on disk"
        if not run_dir.is_dir():
            return "a file, not a run folder"
        if (run_dir / RUN_FILE).exists() and not (run_dir / RUN_FILE).is_file():
            return f"its {RUN_FILE} is not a regular file"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return f"a folder without {RUN_FILE} (not a run folder)"


def index_paths(store: Store, paths: Iterable[Path]) -> IndexSummary:
    """Index every run under each of `paths` into `store`."""
    summary = IndexSummary()
    for path in paths:
        for run_file in find_runs(path):
            try:
                outcome = index_run(store, run_file)
            except StoreError:
                raise
            except UserError as exc:  # the run.json's fault: skip it
                summary.skipped.append(str(exc))
                continue
            (summary.indexed if outcome == "indexed" else summary.unchanged).append(
                run_dir_key(run_file.parent)
            )
    return summary


def index_run(store: Store, run_file: Path) -> str:
    """Index one run.json: "indexed" (new or changed) or "unchanged" (same digest).
    UserError (one line naming the file) for a file that is not a readable run."""
    try:  # only a regular file, bounded: a FIFO named run.json would block for ever
        data = read_regular(run_file, MAX_RUN_BYTES, "run.json")
    except UnreadableFile as exc:
        raise UserError(f"{run_file}: unreadable run.json: {exc.reason}") from None
    try:
        return _index(store, run_file, data)
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"{store.label}: cannot index {run_file}: {reason(exc, '')}") from None


def _index(store: Store, run_file: Path, data: bytes) -> str:
    digest = file_digest(data)
    key = run_dir_key(run_file.parent)
    with reading(store.engine) as conn:
        if _current(conn, key, digest):
            return "unchanged"
    run = read_run(run_file)
    rows = run_rows(run, run_file.parent, digest, _file_version(data))
    rows.run.update(settled(run, run_file.parent))
    # Under the store's write lock: a second indexer of the same run waits, then finds
    # the first's rows (same digest: unchanged) instead of inserting its run_dir again.
    with writing(store.engine) as conn:
        if _current(conn, key, digest, rows.run["status"]):
            return "unchanged"
        found = conn.execute(sa.select(RUNS.c.id).where(RUNS.c.run_dir == key)).scalar()
        if found is not None:
            delete_run(conn, found)
        insert_requests(conn, insert_run(conn, rows), run_file.parent)  # requests.parquet
    return "indexed"


def _current(conn: sa.Connection, key: str, digest: str, status: str | None = None) -> bool:
    """The run is stored from this very run.json (and, given `status`, with it). A run
    whose run.json says running is looked at again: its process may have died since (or,
    stored as stopped, been resumed)."""
    found = conn.execute(
        sa.select(RUNS.c.digest, RUNS.c.status, RUNS.c.reason).where(RUNS.c.run_dir == key)
    ).first()
    if found is None or found.digest != digest:
        return False
    if status is not None:
        return bool(found.status == status)
    return found.status != RUNNING and not str(found.reason).startswith(STOPPED)


def settled(run: RunResult, run_dir: Path) -> dict[str, str]:
    """The run's status and reason as the store keeps them: a run.json that still says
    running while no vlm-bench process holds its run folder (the process was killed, the
    machine went down) is a failed run, not one to read as if it were going on or done."""
    if run.status != RUNNING:
        return {}
    holder = _lock_holder(run_dir)
    if holder is True:
        return {}
    why = "no vlm-bench process holds its run folder" if holder is False else holder
    return {
        "status": FAILED,
        "reason": f"{STOPPED}: run.json says running, but {why}",
    }


def _lock_holder(run_dir: Path) -> bool | str:
    """True when a live process (on this host) or one on another host may hold the run's
    lock (`.lock`, bench/measure/lock.py: pid and host); else False or what is known."""
    try:
        record = json.loads((run_dir / LOCK_FILE).read_text(encoding="utf-8"))
        pid, host = int(record["pid"]), str(record["host"])
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError):
        return True  # a lock being written, or unreadable: cannot tell, say nothing
    if host != socket.gethostname():
        return True  # another machine's process: cannot tell from here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"its process (pid {pid}) is gone"
    except OSError:
        return True  # alive, someone else's
    return True


def _file_version(data: bytes) -> int | None:
    """The schema_version run.json was written with (read_run upgrades older ones)."""
    try:
        version = json.loads(data).get("schema_version", 1)
    except (ValueError, AttributeError):
        return None
    return version if isinstance(version, int) else None


def delete_run(conn: sa.Connection, key: int) -> None:
    for table in CHILDREN:
        conn.execute(sa.delete(table).where(table.c.run_key == key))
    conn.execute(sa.delete(RUNS).where(RUNS.c.id == key))


def insert_run(conn: sa.Connection, rows: RunRows) -> int:
    """The run's rows (text scrubbed: the store is a sink like any file); its new key."""
    inserted = conn.execute(sa.insert(RUNS).values(**scrub_row(rows.run)))
    primary = inserted.inserted_primary_key
    assert primary is not None  # an INSERT of one row always has one
    key = int(primary[0])
    children = ((LEVELS, rows.levels), (LEVEL_METRICS, rows.metrics), (LEVEL_CHECKS, rows.checks))
    for table, items in children:
        if items:
            conn.execute(sa.insert(table), [{**scrub_row(item), "run_key": key} for item in items])
    return key
