"""Indexing run folders into the store: find run.json files, and (re)write each run's rows
idempotently.

A run whose run.json has the digest already stored is left as it is; a changed one has
its rows replaced in one transaction; a run.json that is not a run (bad JSON, a field of
the wrong type, a version this vlm-bench cannot read) is skipped with the one-line
reason `bench.schema.runfile.read_run` gives, naming the file.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.errors import UserError
from bench.redact import scrub_row
from bench.safepath import UnreadableFile, read_regular
from bench.schema.runfile import MAX_RUN_BYTES, read_run
from bench.store.db import Store, StoreError, reason
from bench.store.rows import RunRows, file_digest, run_dir_key, run_rows
from bench.store.tables import CHILDREN, LEVEL_CHECKS, LEVEL_METRICS, LEVELS, RUNS

log = logging.getLogger(__name__)

RUN_FILE = "run.json"


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
    with store.engine.begin() as conn:
        found = conn.execute(
            sa.select(RUNS.c.id, RUNS.c.digest).where(RUNS.c.run_dir == key)
        ).first()
        if found is not None and found.digest == digest:
            return "unchanged"
        run = read_run(run_file)
        rows = run_rows(run, run_file.parent, digest, _file_version(data))
        if found is not None:
            delete_run(conn, found.id)
        insert_run(conn, rows)
    return "indexed"


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
