"""`vlm-bench compare`: runs side by side, per load point, against the first run.

Runs are comparable only when their workloads are: the load fields below must be equal
(or `--force`), and so must the load points (with `--force`, their intersection): the
concurrency levels, or a rate sweep's (cap, rate) pairs (bench.schema.results.load_point).
Changes are plain relative differences of the reported figures, computed from the values
as stored (a published table's rounded figures included); they carry no significance
test: `vlm-bench gate` judges noise, this shows. Times are shown in milliseconds, the one
unit for people (bench.schema.metrics); the changes do not depend on it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from bench.analyze.compare import (
    change_pct,
    common_levels,
    format_pct,
    provenance_differences,
    run_label,
    workload_difference,
)
from bench.errors import UserError
from bench.report import plots
from bench.report.compare_precision import precision_section
from bench.report.markdown import rescale, sim_time_scale
from bench.report.tables import (
    FAILED,
    NOT_HONOURED,
    format_display,
    markdown_table,
    point_header,
    template,
)
from bench.schema.metrics import BY_KEY
from bench.schema.results import (
    LevelResult,
    LoadPoint,
    RunResult,
    aggregate,
    has_metric,
    is_published,
    load_point,
    point_label,
)

FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Throughput", ("output_tok_s", "rps")),
    ("Latency", ("latency_avg_s", "latency_p99_s")),
    ("TTFT", ("ttft_avg_s", "ttft_p99_s")),
    ("TPOT", ("tpot_avg_s", "tpot_p99_s")),
    ("Success rate", ("success_rate",)),
    # Shown only when a run measured accelerator telemetry (docs/telemetry.md).
    ("Energy", ("energy_per_token_j", "output_tok_per_j")),
)
HEADLINE = ("output_tok_s", "ttft_avg_s", "tpot_avg_s")


def _comparable(run: RunResult) -> RunResult:
    """One level per load point (repeats folded into medians), in the modelled
    hardware's time for a time-scaled simulator run."""
    levels = aggregate(run.levels)
    if scale := sim_time_scale(run.scenario):
        levels = [rescale(lv, scale) for lv in levels]
    return dataclasses.replace(run, levels=levels)


def run_description(run: RunResult) -> str:
    scenario = run.scenario
    where = ", ".join(x for x in (scenario.hardware, scenario.backend) if x)
    if scale := sim_time_scale(scenario):
        where += f"; simulator at time scale {scale}, rescaled to the modelled hardware"
    if is_published(run):
        pub = run.provenance.published
        assert pub is not None
        return f"{where}; published table {pub.table.split()[0]!r} of {pub.source}"
    return f"{where}; measured {run.provenance.started_at or '?'}"


def _measured(level: LevelResult | None) -> bool:
    return level is not None and level.measured


def _cell(run: RunResult, level: LevelResult | None, key: str) -> str:
    if not has_metric(run, key):
        return "n/a"
    if level is None or not _measured(level):
        return FAILED
    text = format_display(key, level.value(key))
    return text if level.tokens_honoured else f"{text} {NOT_HONOURED}"


@dataclass
class Comparison:
    runs: list[RunResult]
    levels: list[LoadPoint]  # (bench.schema.results.load_point)
    mismatches: list[str] = dataclasses.field(default_factory=list)  # allowed differences
    raw: list[RunResult] = dataclasses.field(default_factory=list)  # repeats kept (precision)

    def level(self, run: RunResult, point: LoadPoint | int) -> LevelResult | None:
        """`run`'s level at `point` (a bare int: that concurrency, closed loop)."""
        want = (point, None) if isinstance(point, int) else point
        return next((lv for lv in run.levels if load_point(lv) == want), None)

    def change(self, k: int, key: str, point: LoadPoint | int) -> float | None:
        base, other = self.level(self.runs[0], point), self.level(self.runs[k], point)
        if not (_measured(base) and _measured(other)):
            return None
        if not (has_metric(self.runs[0], key) and has_metric(self.runs[k], key)):
            return None
        assert base is not None and other is not None
        return change_pct(base.value(key), other.value(key))

    def table(self, keys: tuple[str, ...]) -> str:
        letters = [chr(ord("A") + k) for k in range(len(self.runs))]
        header = [point_header(self.levels)]
        for key in keys:
            label = BY_KEY[key].display_label
            header += [f"{label} {x}" for x in letters]
            header += [f"Δ {x}" for x in letters[1:]]
        rows = []
        for point in self.levels:
            row = [point_label(point)]
            for key in keys:
                row += [_cell(run, self.level(run, point), key) for run in self.runs]
                row += [format_pct(self.change(k, key, point)) for k in range(1, len(self.runs))]
            rows.append(row)
        return markdown_table(header, rows)

    def headline(self) -> list[str]:
        """Per run after the first, the guide's sentence: each headline metric's change at
        the lowest and the highest common load point."""
        lo, hi = self.levels[0], self.levels[-1]
        out = []
        for k in range(1, len(self.runs)):
            parts = []
            for key in HEADLINE:
                at = [(c, self.change(k, key, c)) for c in dict.fromkeys((lo, hi))]
                text = ", ".join(
                    f"{format_pct(v)} at {'concurrency ' if i == 0 else ''}{point_label(c)}"
                    for i, (c, v) in enumerate(at)
                )
                parts.append(f"{BY_KEY[key].name} {text}")
            out.append(
                f"{run_label(self.runs[k])} vs {run_label(self.runs[0])}: " + "; ".join(parts)
            )
        return out


def compare(runs: list[RunResult], force: bool = False, allow_mismatch: bool = False) -> Comparison:
    """Check the runs are comparable (UserError naming what differs), then pair levels.

    Repeated levels are compared by their medians; a time-scaled simulator run in the
    modelled hardware's time (as its report's second table), so it can sit beside a
    published or measured run."""
    if len(runs) < 2:
        raise UserError("compare needs at least two runs")
    raw, runs = runs, [_comparable(run) for run in runs]
    if not force and (why := workload_difference(runs)):
        raise UserError(f"{why} (--force compares anyway)")
    mismatches = provenance_differences(runs)
    if mismatches and not allow_mismatch:
        raise UserError(
            f"cannot compare: provenance differs, {mismatches[0]} "
            "(--allow-mismatch compares anyway)"
        )
    return Comparison(runs, common_levels(runs, force), mismatches, raw)


def overlay_series(comparison: Comparison) -> list[plots.Series]:
    """The overlay plots' series: each run's common levels (a rate sweep's are drawn
    against their arrival rate, bench/report/plotaxes.py)."""
    return [
        (run_label(run), [lv for lv in run.levels if load_point(lv) in comparison.levels])
        for run in comparison.runs
    ]


def write_plots(comparison: Comparison, out_dir: Path) -> list[str]:
    """Overlay plots of the compared runs (their common levels), PNG and SVG."""
    series = overlay_series(comparison)
    load = comparison.runs[0].scenario.load
    caption = "compare: " + " vs ".join(label for label, _ in series)
    caption += f" · {load.dataset} {load.image_width}×{load.image_height}"
    caption += f", {load.max_tokens} output tokens"
    return plots.write_all(series, caption, out_dir)


def render(comparison: Comparison, plots: list[str] | None = None) -> str:
    runs = comparison.runs
    return template("compare.md.j2").render(
        runs=[
            (chr(ord("A") + k), run_label(run), run_description(run)) for k, run in enumerate(runs)
        ],
        headline=comparison.headline(),
        families=[
            (title, comparison.table(keys))
            for title, keys in FAMILIES
            if any(has_metric(run, key) for run in runs for key in keys)
        ],
        published=any(is_published(run) for run in runs),
        plots=plots or [],
        mismatches=comparison.mismatches,
        precision=precision_section(comparison.raw, comparison.levels),
        where="level (concurrency and rate)"
        if any(rate is not None for _, rate in comparison.levels)
        else "concurrency",
    )
