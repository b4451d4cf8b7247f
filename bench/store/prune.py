"""`vlm-bench db prune`: drop old runs from the store, keeping the newest N of each
scenario (`--keep N`) or every run that started on or after a date (`--before DATE`).

Only the store's rows go; the run folders are the source of truth and stay untouched (a
later `vlm-bench db index` of a folder that still holds a pruned run adds it again).
Which runs go is decided by `chosen`, pure, from the runs' scenario and start time; the
choice and the deletion run in one transaction under the store's write lock, so a
concurrent indexer is never half pruned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from bench.errors import UserError
from bench.store.db import Store, StoreError, reason, writing
from bench.store.index import delete_run
from bench.store.tables import RUNS
from bench.store.typed import BadValue, checked_rows


@dataclass(frozen=True)
class PruneRule:
    """Which runs go: beyond the newest `keep` of each scenario, or started before
    `before` (timezone-aware). Exactly one of them is set."""

    keep: int | None = None
    before: datetime | None = None


@dataclass(frozen=True)
class StoredRun:
    """A run as prune sees it: its key, folder, scenario and start (None: undated)."""

    key: int
    run_dir: str
    scenario: str
    started: datetime | None


@dataclass
class PruneSummary:
    """The runs dropped (their folders) and how many stayed."""

    pruned: list[str] = field(default_factory=list)
    kept: int = 0

    def line(self, store: Store, dry_run: bool) -> str:
        verb = "would prune" if dry_run else "pruned"
        return f"{verb} {len(self.pruned)}, kept {self.kept} in {store.label}"

    def to_dict(self, store: Store, dry_run: bool) -> dict[str, Any]:
        return {"store": store.label, "dry_run": dry_run, "pruned": self.pruned, "kept": self.kept}


def parse_before(text: str) -> datetime:
    """`--before`: a date (YYYY-MM-DD, midnight UTC) or an ISO 8601 time (no offset: UTC)."""
    try:
        if len(text.strip()) == 10:
            day = date.fromisoformat(text.strip())
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"--before {text!r}: not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def parse_started(text: str | None) -> datetime | None:
    """A stored `started_at` (ISO 8601 as run.json writes it); None when missing or not
    a time: such a run is undated."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _newest_first(run: StoredRun) -> tuple[bool, float, str]:
    """Newest start first, undated runs last (the oldest), then by folder: a stable order."""
    stamp = run.started.timestamp() if run.started is not None else 0.0
    return (run.started is None, -stamp, run.run_dir)


def chosen(runs: list[StoredRun], rule: PruneRule) -> list[StoredRun]:
    """The runs `rule` drops. `keep`: all but the newest `keep` of each scenario (undated
    runs count as the oldest). `before`: those that started before it (undated: kept)."""
    if rule.before is not None:
        before = rule.before
        return [r for r in runs if r.started is not None and r.started < before]
    assert rule.keep is not None
    by_scenario: dict[str, list[StoredRun]] = {}
    for run in runs:
        by_scenario.setdefault(run.scenario, []).append(run)
    out = []
    for group in by_scenario.values():
        out += sorted(group, key=_newest_first)[rule.keep :]
    return sorted(out, key=lambda r: r.run_dir)


def prune(store: Store, rule: PruneRule, dry_run: bool = False) -> PruneSummary:
    """Drop the runs `rule` chooses from `store` (nothing with `dry_run`)."""
    try:
        with writing(store.engine) as conn:
            runs = _stored_runs(conn)
            going = chosen(runs, rule)
            if not dry_run:
                for run in going:
                    delete_run(conn, run.key)
    except BadValue as exc:
        raise StoreError(f"{store.label}: {exc}") from None
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"{store.label}: cannot prune: {reason(exc, '')}") from None
    return PruneSummary([r.run_dir for r in going], len(runs) - len(going))


def _stored_runs(conn: sa.Connection) -> list[StoredRun]:
    names = ("id", "run_dir", "scenario_name", "started_at")
    rows = checked_rows(conn, RUNS, names, lambda r: f"id {r['id']}")
    return [
        StoredRun(r["id"], r["run_dir"], r["scenario_name"], parse_started(r["started_at"]))
        for r in rows
    ]
