"""Comparison rules: when runs measure the same thing, and how a figure changed.

Runs are comparable only when their workloads are (the load fields below, and a
`workload:` section's fingerprint: the sources' content plus the shape; equal unless
`--force`; the gate never forces), their load points are (concurrency levels, or a rate
sweep's (cap, rate) pairs; with `--force`, their intersection), and their recorded
hardware and software are (bench/analyze/fingerprint.py, unless `--allow-mismatch`).
Changes are plain relative differences. Used by `compare` (bench/report/compare.py
renders) and the gate (bench/analyze/gate.py).
"""

from __future__ import annotations

import math

from bench.analyze.fingerprint import differences
from bench.errors import UserError
from bench.schema.results import (
    LevelResult,
    LoadPoint,
    RunResult,
    by_level,
    is_published,
    load_point,
    point_label,
    point_order,
)
from bench.schema.scenario_load import LoadSpec

# What makes two sweeps measure the same thing: every load field but these, which say how
# the data is drawn (seed, vary_seed: the same distribution, other samples), how the client
# waits or warms up (not measured), and how it authenticates (not the workload). A field
# added to LoadSpec is compared unless it is named here.
NOT_WORKLOAD = frozenset(
    {
        "seed",
        "vary_seed",
        "warmup_requests",
        "request_timeout_s",
        "level_timeout_s",
        "api_key",
        "headers",
    }
)
WORKLOAD_FIELDS = tuple(name for name in LoadSpec.model_fields if name not in NOT_WORKLOAD)
MINUS = "−"


def run_label(run: RunResult) -> str:
    """How a run is named in tables and messages (a published table by its name only)."""
    return run.scenario_name if is_published(run) else f"{run.scenario_name} {run.run_id}"


def workload_difference(runs: list[RunResult]) -> str | None:
    """The first load field, or `workload:` section (`workload_section_difference`), on
    which a run differs from the first run, described."""
    base = runs[0].scenario.load
    for k, run in enumerate(runs[1:], 1):
        for name in WORKLOAD_FIELDS:
            ours, theirs = getattr(base, name), getattr(run.scenario.load, name)
            if theirs != ours:
                return (
                    f"runs differ in load.{name}: {run_label(runs[0])} has {ours!r}, "
                    f"{run_label(runs[k])} has {theirs!r}"
                )
        if why := workload_section_difference(runs[0], run):
            return why
    return None


def workload_fingerprint(run: RunResult) -> str | None:
    """The fingerprint of what a `workload:` run sent: its provenance's, else (a run made
    before provenance kept it) its first level's; None for a run without a workload."""
    if run.scenario.workload is None:
        return None
    if run.provenance.workload_fingerprint:
        return run.provenance.workload_fingerprint
    return next((lv.workload.fingerprint for lv in run.levels if lv.workload.fingerprint), None)


def workload_section_difference(a: RunResult, b: RunResult) -> str | None:
    """How two runs' workloads differ, or None when they sent the same thing.

    The same: neither has a `workload:` section, or both have the same fingerprint (the
    sources' content plus the shape settings, wherever the files lie). Otherwise the
    first shape setting that differs is named, else the sources' content (the same
    settings, other files). A fingerprint missing on one side is not a difference when
    the settings agree: unknown is not different."""
    wa, wb = a.scenario.workload, b.scenario.workload
    if wa is None and wb is None:
        return None
    fa, fb = workload_fingerprint(a), workload_fingerprint(b)
    if wa is None or wb is None:
        return (
            f"runs differ in workload: {run_label(a)} sends {_workload_name(a, fa)}, "
            f"{run_label(b)} sends {_workload_name(b, fb)}"
        )
    if fa and fb and fa == fb:
        return None
    prints = f" (workload {fa or '?'} vs {fb or '?'})"
    settings_a, settings_b = (
        _settings(wa.model_dump(mode="json")),
        _settings(wb.model_dump(mode="json")),
    )
    for key in dict.fromkeys([*settings_a, *settings_b]):
        ours, theirs = settings_a.get(key), settings_b.get(key)
        if ours != theirs:
            return (
                f"runs differ in workload.{key}: {run_label(a)} has {ours!r}, "
                f"{run_label(b)} has {theirs!r}{prints}"
            )
    if fa and fb:
        return (
            f"runs differ in workload content: the same settings over other source files "
            f"({run_label(a)}: {fa} from {wa.source.path}, {run_label(b)}: {fb} from "
            f"{wb.source.path})"
        )
    return None


def _workload_name(run: RunResult, fingerprint: str | None) -> str:
    spec = run.scenario.workload
    if spec is None:
        return f"load.dataset {run.scenario.load.dataset!r} (no workload: section)"
    return f"workload {fingerprint or '?'} ({spec.source.kind} from {spec.source.path})"


def _settings(data: dict[str, object], prefix: str = "") -> dict[str, object]:
    """A workload section's settings flat (`source.kind`, `reuse`), its source's path left
    out: the fingerprint names content, wherever the files lie."""
    out: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key == "source":
            out.update(_settings(value, f"{prefix}{key}."))
        elif f"{prefix}{key}" != "source.path":
            out[f"{prefix}{key}"] = value
    return out


def _listed(points: set[LoadPoint]) -> str:
    """`[1, 2, 4]` (a list's repr for concurrency levels), `[64 @ 1 req/s, 64 @ 2 req/s]`."""
    return "[" + ", ".join(point_label(p) for p in sorted(points, key=point_order)) + "]"


def common_levels(
    runs: list[RunResult], force: bool, hint: str = " (--force compares the common ones)"
) -> list[LoadPoint]:
    """The load points (bench.schema.results.load_point: concurrency, and the rate of a
    rate sweep's level) all runs share, in order; UserError when they differ (unless
    `force`) or share none. A rate sweep and a closed-loop run share none."""
    sets = [{load_point(lv) for lv in run.levels} for run in runs]
    rated = [any(rate is not None for _, rate in s) for s in sets]
    closed = [bool(s) and not r for s, r in zip(sets, rated, strict=True)]
    if any(rated) and any(closed):
        closed_at, paced = closed.index(True), rated.index(True)
        raise UserError(
            f"the runs share no load point: {run_label(runs[closed_at])} is a closed-loop run "
            f"(concurrency {_listed(sets[closed_at])}), {run_label(runs[paced])} a rate sweep "
            f"({_listed(sets[paced])})"
        )
    what = "levels" if any(rated) else "concurrency levels"
    if not force and any(s != sets[0] for s in sets):
        odd = next(k for k, s in enumerate(sets) if s != sets[0])
        raise UserError(
            f"{what} differ: {run_label(runs[0])} has {_listed(sets[0])}, "
            f"{run_label(runs[odd])} has {_listed(sets[odd])}{hint}"
        )
    common = sorted(set.intersection(*sets), key=point_order)
    if not common:
        raise UserError(f"the runs share no {'load point' if any(rated) else 'concurrency level'}")
    return common


def by_point(run: RunResult) -> dict[LoadPoint, list[LevelResult]]:
    """A run's repeats by load point (bench.schema.results.load_point)."""
    return {load_point(g[0]): g for g in by_level(run.levels)}


def change_pct(base: float, new: float) -> float | None:
    """None when there is nothing to compare: a zero base, or a value that is not a finite
    number (NaN, infinite: no data, never a change)."""
    if not (base and math.isfinite(base) and math.isfinite(new)):
        return None
    change = (new / base - 1) * 100
    return change if math.isfinite(change) else None


def format_pct(value: float | None) -> str:
    """A change as `+1.2 %` / `−1.2 %` (a true minus sign), `n/a` when there is none."""
    if value is None:
        return "n/a"
    text = f"{abs(value):.1f} %"
    return text if text == "0.0 %" else (f"+{text}" if value > 0 else f"{MINUS}{text}")


def provenance_differences(runs: list[RunResult]) -> list[str]:
    """How each run's hardware and software differ from the first run's (recorded
    provenance only: a published table has none)."""
    out = []
    for run in runs[1:]:
        diffs = differences(runs[0].provenance.to_dict(), run.provenance.to_dict())
        if diffs:
            out.append(f"{run_label(runs[0])} vs {run_label(run)}: " + "; ".join(diffs))
    return out
