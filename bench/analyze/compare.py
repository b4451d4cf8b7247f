"""Comparison rules: when runs measure the same thing, and how a figure changed.

Runs are comparable only when their workloads are (the load fields below, equal unless
`--force`), their concurrency levels are (with `--force`, their intersection), and their
recorded hardware and software are (bench/analyze/fingerprint.py, unless
`--allow-mismatch`). Changes are plain relative differences. Used by `compare`
(bench/report/compare.py renders) and the gate (bench/analyze/gate.py).
"""

from __future__ import annotations

import math

from bench.analyze.fingerprint import differences
from bench.errors import UserError
from bench.schema.results import RunResult, is_published
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
    """The first load field on which a run differs from the first run, described."""
    base = runs[0].scenario.load
    for k, run in enumerate(runs[1:], 1):
        for name in WORKLOAD_FIELDS:
            ours, theirs = getattr(base, name), getattr(run.scenario.load, name)
            if theirs != ours:
                return (
                    f"runs differ in load.{name}: {run_label(runs[0])} has {ours!r}, "
                    f"{run_label(runs[k])} has {theirs!r}"
                )
    return None


def common_levels(runs: list[RunResult], force: bool) -> list[int]:
    """The concurrency levels all runs share; UserError when they differ (unless `force`)
    or share none."""
    sets = [{lv.parallel for lv in run.levels} for run in runs]
    if not force and any(s != sets[0] for s in sets):
        odd = next(k for k, s in enumerate(sets) if s != sets[0])
        raise UserError(
            f"concurrency levels differ: {run_label(runs[0])} has {sorted(sets[0])}, "
            f"{run_label(runs[odd])} has {sorted(sets[odd])} (--force compares the common ones)"
        )
    common = sorted(set.intersection(*sets))
    if not common:
        raise UserError("the runs share no concurrency level")
    return common


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
