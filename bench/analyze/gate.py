"""The regression gate: a candidate run against a baseline, cell by cell.

A cell is one (load point, metric), a load point being a concurrency level or a rate
sweep's (cap, rate) pair (bench.schema.results.load_point). Its sample is the run-level
aggregates of that level, one per repeat (never per-request values: requests in one batch
are correlated). A cell is
- REGRESSION when the candidate's median is worse than the baseline's beyond the metric's
  relative band AND absolute floor, and — with at least 5 repeats a side — a one-sided
  Mann-Whitney U test gives p < α / L (Bonferroni over the L load points: the metrics of
  one level move together and are gated as one family); with fewer repeats, only beyond
  twice the band (3 vs 3 cannot reach p < 0.05 at all);
- SUSPECT when beyond the band but not significant (or not beyond twice the band);
- NOISY when either sample's coefficient of variation exceeds 10 %;
- FAILED when the candidate has failed requests at a level where the baseline had none;
- NO DATA when a side has no measured value, or a value that is not a finite number (NaN
  or infinite, e.g. computed from a zero-length level): such a cell is never judged, so it
  can never pass.
Exit: 0 no confirmed regression; 1 a regression or new failures; 2 incomparable input, or
a cell with no data (nothing is claimed about it); 3 (with --strict) only SUSPECT or NOISY
cells.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.analyze import stats
from bench.analyze.compare import by_point, common_levels, format_pct, workload_difference
from bench.analyze.fingerprint import differences
from bench.errors import UserError, describe_validation_error
from bench.safeyaml import load_file
from bench.schema.metrics import BY_KEY, Better, Metric
from bench.schema.results import (
    LevelResult,
    LoadPoint,
    RunResult,
    has_metric,
    load_point,
    point_label,
)
from bench.schema.runfile import read_run
from bench.schema.runwrite import write_run
from bench.schema.scenario import GateSpec

MIN_SAMPLES = 5
SUMMARY_CELLS = 4  # cells named in the one-line summary
NOISY_CV = 0.10
EXIT_OK, EXIT_REGRESSION, EXIT_NO_DATA, EXIT_STRICT = 0, 1, 2, 3
NO_DATA = "NO DATA"


@dataclass(frozen=True)
class Threshold:
    band: float
    floor: float


def default_thresholds() -> dict[str, Threshold]:
    return {k: Threshold(m.band, m.floor) for k, m in BY_KEY.items() if m.band is not None}


def thresholds_from(spec: dict[str, Any], base: dict[str, Threshold]) -> dict[str, Threshold]:
    """`base` with a scenario's or a thresholds file's {metric: {band, floor}} applied."""
    out = dict(base)
    for key, value in spec.items():
        out[key] = Threshold(float(value["band"]), float(value.get("floor", 0.0)))
    return out


def settings(candidate: RunResult, path: Path | None) -> tuple[dict[str, Threshold], float]:
    """Thresholds and α: the defaults, the candidate scenario's `gate:`, or a file."""
    from pydantic import ValidationError

    spec = candidate.scenario.gate
    if path is not None:
        # The scenario's YAML rules (size, encoding, duplicate keys, NaN, …): one line each.
        data = load_file(path, "--thresholds file")
        try:
            spec = GateSpec.model_validate(data or {})
        except ValidationError as exc:
            raise UserError(describe_validation_error(path, exc, GateSpec)) from None
    overrides = {k: v.model_dump() for k, v in spec.thresholds.items()}
    return thresholds_from(overrides, default_thresholds()), spec.alpha


def save_baseline(run_dir: Path, target: Path, force: bool) -> Path:
    """Copy a run's results (run.json, levels.csv, report.md, scenario.yaml; no raw files)
    to `target`, the baseline's folder."""
    run = read_run(run_dir)
    if target.exists() and not force:
        raise UserError(f"{target} exists (--force replaces it)")
    target.mkdir(parents=True, exist_ok=True)
    # write_run redacts the scenario (RunResult.to_dict), which also covers run.json
    # files written before runs were redacted.
    write_run(run, target)
    source = run_dir if run_dir.is_dir() else run_dir.parent
    for name in ("report.md", "scenario.yaml"):
        if (source / name).exists():
            shutil.copyfile(source / name, target / name)
    return target


@dataclass
class Cell:
    parallel: int
    key: str
    verdict: str  # OK | REGRESSION | SUSPECT | NOISY | FAILED | NO DATA
    base: list[float]
    cand: list[float]
    worse: float = 0.0  # relative change in the bad direction (+0.10 = 10 % worse)
    p: float | None = None
    cv: float = 0.0
    detail: str = ""
    rate: float | None = None  # a rate sweep's level: its arrival rate (req/s)

    @property
    def where(self) -> str:
        """`conc 8`, or `conc 8 @ 2 req/s` for a rate sweep's level."""
        return f"conc {point_label((self.parallel, self.rate))}"


def _samples(group: list[LevelResult], key: str) -> list[float]:
    return [lv.value(key) for lv in group if lv.measured]


def no_data(base: list[float], cand: list[float]) -> str | None:
    """Why a cell cannot be judged (a side without a finite value), or None."""
    for side, values in (("baseline", base), ("candidate", cand)):
        if not values:
            return f"no data: no measured level in the {side}"
        bad = [v for v in values if not math.isfinite(v)]
        if bad:
            return f"no data: {side} value {bad[0]} is not a finite number"
    return None


def judge(
    parallel: int,
    metric: Metric,
    base: list[float],
    cand: list[float],
    threshold: Threshold,
    alpha: float,
    rate: float | None = None,
) -> Cell:
    """One cell's verdict from its two samples (see the module docstring); `rate`: a rate
    sweep level's arrival rate, with `parallel` its cap."""
    if why := no_data(base, cand):
        return Cell(parallel, metric.key, NO_DATA, base, cand, detail=why, rate=rate)
    b, c = stats.median(base), stats.median(cand)
    worse = ((b - c) if metric.better is Better.HIGHER else (c - b)) / b if b else 0.0
    beyond = worse > threshold.band and abs(c - b) > threshold.floor
    # A single value has no known spread (NaN).
    spread = max((v for v in (stats.cv(base), stats.cv(cand)) if not math.isnan(v)), default=0.0)
    cell = Cell(parallel, metric.key, "OK", base, cand, worse, None, spread, rate=rate)
    if len(base) >= MIN_SAMPLES and len(cand) >= MIN_SAMPLES:
        if metric.better is Better.HIGHER:
            cell.p = stats.mann_whitney_greater(base, cand)
        else:
            cell.p = stats.mann_whitney_greater(cand, base)
        if beyond:
            cell.verdict = "REGRESSION" if cell.p < alpha else "SUSPECT"
    elif beyond:
        twice = worse > 2 * threshold.band
        cell.verdict = "REGRESSION" if twice else "SUSPECT"
        cell.detail = f"{len(base)} vs {len(cand)} repeats: no test, twice the band needed"
    if cell.verdict == "OK" and spread > NOISY_CV:
        cell.verdict = "NOISY"
    return cell


@dataclass
class GateResult:
    baseline: RunResult
    candidate: RunResult
    alpha: float
    levels: int
    cells: list[Cell] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # allowed with --allow-mismatch

    def flagged(self) -> list[Cell]:
        return [c for c in self.cells if c.verdict != "OK"]

    def count(self, verdict: str) -> int:
        return sum(1 for c in self.cells if c.verdict == verdict)

    def exit_code(self, strict: bool = False) -> int:
        if self.count("REGRESSION") or self.count("FAILED"):
            return EXIT_REGRESSION
        if self.count(NO_DATA):
            return EXIT_NO_DATA
        if strict and (self.count("SUSPECT") or self.count("NOISY")):
            return EXIT_STRICT
        return EXIT_OK

    def verdict(self) -> str:
        """REGRESSION, PASS, or (no regression, some cells without data) NO DATA, and
        NOTHING COMPARABLE when no cell has data: never PASS over a cell not judged."""
        if self.count("REGRESSION") or self.count("FAILED"):
            return "REGRESSION"
        if self.count(NO_DATA):
            return "NOTHING COMPARABLE" if self.count(NO_DATA) == len(self.cells) else NO_DATA
        return "PASS"

    def summary(self) -> str:
        bad = [c for c in self.cells if c.verdict in ("REGRESSION", "FAILED", NO_DATA)]
        head = self.verdict()
        named = ", ".join(
            f"{c.where} {BY_KEY[c.key].name} {format_pct(100 * c.worse)} worse"
            if c.verdict == "REGRESSION"
            else f"{c.where} {BY_KEY[c.key].name} {c.detail}"
            if c.verdict == NO_DATA
            else f"{c.where} {c.detail}"
            for c in bad[:SUMMARY_CELLS]
        ) + (f" and {len(bad) - SUMMARY_CELLS} more" if len(bad) > SUMMARY_CELLS else "")
        counts = ", ".join(
            f"{self.count(v)} {v.lower()}" for v in ("SUSPECT", "NOISY") if self.count(v)
        )
        gated = len([c for c in self.cells if c.key != "success_rate"])
        return (
            f"gate: {head}"
            + (f" — {named}" if named else "")
            + (f"; {counts}" if counts else "")
            + f" ({gated} cells at {self.levels} level{'s' if self.levels > 1 else ''}, "
            f"α = {self.alpha:g} / {self.levels})"
        )


def _mismatches(baseline: RunResult, candidate: RunResult) -> list[str]:
    """Scenario hardware/backend and recorded provenance (devices, drivers, versions)."""
    out = []
    for name in ("hardware", "backend"):
        a, b = getattr(baseline.scenario, name), getattr(candidate.scenario, name)
        if a != b:
            out.append(f"{name}: baseline {a!r}, candidate {b!r}")
    diffs = differences(baseline.provenance.to_dict(), candidate.provenance.to_dict())
    return out + [f"{d} (baseline vs candidate)" for d in diffs]


def duplicate_repeat(run: RunResult, side: str) -> str | None:
    """Why `run`'s samples cannot be trusted: two measured levels with the same load point
    and repeat (a run.json merged or edited by hand) would count as two repeats and make
    a difference look significant. A failed level beside its retry is fine: only measured
    levels are samples."""
    seen: dict[tuple[LoadPoint, int], int] = {}
    for position, level in enumerate(run.levels):
        if not level.measured:
            continue
        key = (load_point(level), level.repeat)
        if key in seen:
            return (
                f"cannot gate: the {side} has conc {point_label(key[0])} repeat {level.repeat} "
                f"twice (levels {seen[key] + 1} and {position + 1} of its run.json); "
                "keep one of them"
            )
        seen[key] = position
    return None


def gate(
    baseline: RunResult,
    candidate: RunResult,
    thresholds: dict[str, Threshold],
    alpha: float = 0.05,
    allow_mismatch: bool = False,
) -> GateResult:
    """Every gated cell of the candidate against the baseline; UserError when they cannot
    be compared (workload, load points, hardware or backend)."""
    if why := workload_difference([baseline, candidate]):
        raise UserError(f"cannot gate: {why}")
    for run, side in ((baseline, "baseline"), (candidate, "candidate")):
        if why := duplicate_repeat(run, side):
            raise UserError(why)
    mismatches = _mismatches(baseline, candidate)
    if mismatches and not allow_mismatch:
        raise UserError(
            f"cannot gate: runs differ in {'; '.join(mismatches)} (--allow-mismatch to gate anyway)"
        )
    levels = common_levels([baseline, candidate], force=False, hint="")  # gate has no --force
    base = by_point(baseline)
    cand = by_point(candidate)
    result = GateResult(baseline, candidate, alpha, len(levels), mismatches=mismatches)
    corrected = alpha / len(levels)
    # A telemetry metric (energy per token) is gated only where both runs measured it.
    both = [
        k
        for k in thresholds
        if not BY_KEY[k].telemetry or (has_metric(baseline, k) and has_metric(candidate, k))
    ]
    for point in levels:
        (conc, rate), b_group, c_group = point, base[point], cand[point]
        new_failed = sum(lv.failed for lv in c_group)
        if new_failed and not sum(lv.failed for lv in b_group):
            sent = sum(lv.succeeded + lv.failed for lv in c_group)
            detail = f"new failed requests: {new_failed} of {sent}"
            failed = Cell(conc, "success_rate", "FAILED", [], [], detail=detail, rate=rate)
            result.cells.append(failed)
        for key, threshold in thresholds.items():
            if key not in both:
                continue
            b, c = _samples(b_group, key), _samples(c_group, key)
            result.cells.append(judge(conc, BY_KEY[key], b, c, threshold, corrected, rate))
    return result
