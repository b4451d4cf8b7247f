"""The report's accelerator telemetry: a table per level and the energy plot, both only
for runs that measured telemetry (bench/measure/telemetry.py, docs/telemetry.md)."""

from __future__ import annotations

from pathlib import Path

from bench.report import plots
from bench.report.tables import markdown_table, point_header
from bench.schema.results import LevelResult, load_point, point_label

DASH = "—"
PLOT = "energy"
HEADER = [
    "Conc.",
    "Source",
    "Util. mean (%)",
    "Util. peak (%)",
    "Mem. peak (MiB)",
    "Power mean (W)",
    "Power peak (W)",
    "Energy (J)",
    "J/tok",
    "toks/J",
]


def _f(value: float | None, spec: str) -> str:
    return DASH if value is None else format(value, spec)


def measured(levels: list[LevelResult]) -> list[LevelResult]:
    return [lv for lv in levels if not lv.telemetry.empty]


def table(levels: list[LevelResult]) -> str:
    """One row per level with telemetry; "" when none has any. Energy is marked "(∫)"
    when it is the power integral rather than the device's counter."""
    rows = []
    for lv in measured(levels):
        t = lv.telemetry
        method = " (∫)" if t.energy_method == "integral" else ""
        devices = ",".join(str(d) for d in t.devices or [])
        rows.append(
            [
                point_label(load_point(lv)),
                f"{t.source} [{devices}]" if devices else str(t.source),
                _f(t.util_mean_pct, ".1f"),
                _f(t.util_max_pct, ".0f"),
                _f(t.memory_used_max_mb, ".0f"),
                _f(t.power_mean_w, ".1f"),
                _f(t.power_max_w, ".1f"),
                _f(t.energy_j, ".1f") + (method if t.energy_j is not None else ""),
                _f(t.energy_per_token_j, ".4f"),
                _f(t.output_tok_per_j, ".2f"),
            ]
        )
    header = [point_header([load_point(lv) for lv in levels]), *HEADER[1:]]
    return markdown_table(header, rows) if rows else ""


def write_plot(series: list[plots.Series], caption: str, out_dir: Path) -> list[str]:
    """energy.png and .svg when a level of the series has energy per token; its name."""
    import matplotlib

    if not any(lv.telemetry.energy_per_token_j is not None for _, lvs in series for lv in lvs):
        return []
    fig = plots.energy(series, caption)
    fig.savefig(out_dir / f"{PLOT}.png", dpi=plots.PNG_DPI, format="png")
    with matplotlib.rc_context(plots.SVG_RC):
        fig.savefig(out_dir / f"{PLOT}.svg", format="svg", metadata={"Date": None})
    return [f"{PLOT}.png"]
