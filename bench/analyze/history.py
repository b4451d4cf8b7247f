"""A metric's history: one value per run, in the order the runs started, with its change points.

Input is the store's tidy frame (`bench.store.load_runs`: one row per run, level, repeat
and metric; columns listed in bench.schema.tidy); this module never reads the store itself (the
layer rule: analyze receives DataFrames). `series` keeps one scenario, one metric and one
concurrency, takes the median over each run's repeats (as the gate does), orders the runs
by `started_at`, labels each with its date, commit or server version, and marks the runs
where a change point starts (bench/analyze/changepoint.py).

Which values the change-point search sees: only trusted runs (every repeat of the level
measured, with the asked-for output length and no validity flag). An untrusted run stays in
the series, marked, its value shown, but counts as missing (NaN) for the search: a level
whose load did not do what was asked measures something else. The noise floor is the
gate's: the metric's relative band and absolute floor (bench/schema/metrics.py); a metric
without a gate band has no floor beyond significance.

Which runs a series holds: those of one workload. Runs of one scenario name that sent
different workloads (the `workload:` section's fingerprint, `wl-` + 16 hex; NULL for a run
without one) measure different things, so a series never mixes them and the change-point
search never reads a change of workload as a change of performance. By default the series
is the newest run's workload; `Workloads` says which one and what was left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from bench.analyze.changepoint import Change, find_changes
from bench.errors import UserError
from bench.schema.metrics import BY_KEY

By = Literal["date", "commit", "version"]
BY_VALUES: tuple[By, ...] = ("date", "commit", "version")
# `workload=` values besides a fingerprint: the newest run's workload (the default), and
# the runs without a `workload:` section.
NEWEST, NO_WORKLOAD = "newest", "none"
# The columns of `series`, in order.
SERIES_COLUMNS = (
    "run_id",
    "started_at",
    "x",
    "value",
    "repeats",
    "trusted",
    "change",
    "before",
    "after",
    "rel_change",
    "p_value",
)


def noise_floor(metric: str) -> tuple[float, float]:
    """(relative, absolute) smallest change that counts: the gate's band and floor."""
    known = BY_KEY.get(metric)
    if known is None or known.band is None:
        return 0.0, 0.0
    return known.band, known.floor


def _select(frame: pd.DataFrame, scenario: str | None, metric: str, parallel: int) -> pd.DataFrame:
    """The rows of one scenario, metric and concurrency; UserError when there are none."""
    missing = [c for c in ("scenario_name", "metric", "parallel", "value") if c not in frame]
    if missing:
        raise UserError(f"history: the results have no {', '.join(missing)} column")
    if metric not in BY_KEY and metric not in set(frame["metric"]):
        raise UserError(f"unknown metric {metric!r}; known: {', '.join(BY_KEY)}")
    names = sorted(frame["scenario_name"].dropna().unique())
    if scenario is None:
        if len(names) > 1:
            raise UserError(f"several scenarios in the results, name one: {', '.join(names)}")
    elif scenario not in names:
        known = f"; stored: {', '.join(names)}" if names else ""
        raise UserError(f"no runs of scenario {scenario!r}{known}")
    rows = frame[(frame["metric"] == metric) & (frame["parallel"] == parallel)]
    if scenario is not None:
        rows = rows[rows["scenario_name"] == scenario]
    if rows.empty:
        levels = sorted(frame.loc[frame["metric"] == metric, "parallel"].dropna().unique())
        known = f" (stored: {', '.join(str(int(p)) for p in levels)})" if levels else ""
        raise UserError(f"no {metric} values at concurrency {parallel}{known}")
    return rows


@dataclass(frozen=True)
class Workloads:
    """The workload a series holds (`shown`: its fingerprint, None for runs without a
    `workload:` section) and the runs of the others it left out, as (fingerprint, runs),
    the most recently run workload first."""

    shown: str | None
    left_out: tuple[tuple[str | None, int], ...] = ()


def _fingerprints(rows: pd.DataFrame) -> pd.Series:
    """Each row's workload fingerprint (None: no workload section)."""
    if "workload_fingerprint" not in rows:
        return pd.Series([None] * len(rows), index=rows.index, dtype=object)
    column = rows["workload_fingerprint"].astype(object)
    return column.where(column.notna() & (column != ""), None)


def _named(fingerprint: str | None) -> str:
    return fingerprint or NO_WORKLOAD


def _choose(rows: pd.DataFrame, workload: str, parallel: int) -> Workloads:
    """Which workload of `rows` (one scenario, metric, concurrency) the series shows."""
    runs = (
        rows.assign(
            _fp=_fingerprints(rows).map(_named),
            _at=pd.to_datetime(rows["started_at"], utc=True, errors="coerce"),
        )
        .groupby("run_id", sort=False, dropna=False)
        .agg(fp=("_fp", "first"), at=("_at", "first"))
    )
    # Newest first; an undated run counts as the oldest (it cannot say it is newer).
    runs = runs.assign(_dated=runs["at"].notna()).sort_values(
        ["_dated", "at"], ascending=False, kind="stable"
    )
    counts = runs.groupby("fp", sort=False).size()  # in the newest run's order
    if workload == NEWEST:
        chosen = str(counts.index[0])
    elif workload in counts.index:
        chosen = workload
    else:
        stored = ", ".join(f"{fp} ({n} run{'' if n == 1 else 's'})" for fp, n in counts.items())
        raise UserError(
            f"history: --workload {workload}: no run at concurrency {parallel} sent it; "
            f"stored: {stored}"
        )
    left = tuple(
        (None if fp == NO_WORKLOAD else str(fp), int(n)) for fp, n in counts.items() if fp != chosen
    )
    return Workloads(None if chosen == NO_WORKLOAD else chosen, left)


def workloads(
    frame: pd.DataFrame,
    *,
    scenario: str | None,
    metric: str,
    parallel: int,
    workload: str = NEWEST,
) -> Workloads:
    """The workload `series` shows for these arguments, and the runs it leaves out:
    `workload` is a fingerprint, NO_WORKLOAD, or NEWEST (the newest run's). UserError
    for a fingerprint no run of the series has (naming those stored)."""
    return _choose(_select(frame, scenario, metric, parallel), workload, parallel)


def _label(runs: pd.DataFrame, by: By) -> pd.Series:
    """The x label of each run: its start date, its commit (+ when dirty), or its server's
    version; "?" where the run did not record it."""
    if by == "date":
        when = pd.to_datetime(runs["started_at"], utc=True, errors="coerce")
        return when.dt.strftime("%Y-%m-%d %H:%M").fillna("?")
    if by == "commit":
        commit = runs["commit"].astype("string").str.slice(0, 10)
        dirty = runs["dirty"].astype("boolean").fillna(False).map({True: "+", False: ""})
        return (commit + dirty.astype("string")).fillna("?").astype(str)
    return runs["server_version"].astype("string").fillna("?").astype(str)


def _per_run(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per run: the median over its repeats, how many, whether all were trusted."""
    rows = rows.assign(
        value=pd.to_numeric(rows["value"], errors="coerce"),
        trusted=rows["trusted"].astype("boolean").fillna(False).astype(bool),
    )
    runs = rows.groupby("run_id", sort=False, dropna=False).agg(
        started_at=("started_at", "first"),
        commit=("commit", "first"),
        dirty=("dirty", "first"),
        server_version=("server_version", "first"),
        value=("value", "median"),
        repeats=("value", "size"),
        trusted=("trusted", "all"),
    )
    order = pd.to_datetime(runs["started_at"], utc=True, errors="coerce")
    runs = runs.assign(_order=order).sort_values(["_order", "run_id"], kind="stable")
    return runs.drop(columns="_order").reset_index()


def series(
    frame: pd.DataFrame,
    *,
    scenario: str | None,
    metric: str,
    parallel: int,
    by: By = "date",
    alpha: float = 0.01,
    seed: int = 0,
    workload: str = NEWEST,
) -> pd.DataFrame:
    """One row per run (columns `SERIES_COLUMNS`), ordered by start, change points marked:
    `change` is True on the first run after a change, with the medians `before` and `after`
    it, `rel_change` and the split's `p_value` (NaN elsewhere). Only the runs of one
    workload (`workloads`: NEWEST by default). UserError for an unknown metric, a scenario
    with no runs, no value at that concurrency, or an unknown workload."""
    if by not in BY_VALUES:
        raise UserError(f"history: --by must be one of {', '.join(BY_VALUES)}, not {by!r}")
    rows = _select(frame, scenario, metric, parallel)
    shown = _choose(rows, workload, parallel).shown
    runs = _per_run(rows[_fingerprints(rows).map(_named) == _named(shown)])
    runs["x"] = _label(runs, by).to_numpy()
    searched = runs["value"].where(runs["trusted"] & np.isfinite(runs["value"]))
    band, floor = noise_floor(metric)
    found = find_changes(searched.tolist(), alpha=alpha, seed=seed, min_rel=band, min_abs=floor)
    marks = pd.DataFrame(
        [(c.index, c.before, c.after, c.rel_change, c.p_value) for c in found],
        columns=["position", "before", "after", "rel_change", "p_value"],
    ).set_index("position")
    runs = runs.join(marks)  # the default RangeIndex is each run's position
    runs["change"] = runs.index.isin(marks.index)
    return runs.loc[:, list(SERIES_COLUMNS)]


def changes(table: pd.DataFrame) -> list[Change]:
    """The change points `series` marked, back as `Change` objects (index: row position)."""
    marked = table.reset_index(drop=True)
    marked = marked[marked["change"]]
    return [
        Change(int(i), float(r.before), float(r.after), float(r.rel_change), float(r.p_value))
        for i, r in zip(marked.index, marked.itertuples(index=False), strict=True)
    ]
