"""The sweep figures (bench/report/plots.py): what is drawn, on which axes, and the files.

Two hand-made runs over concurrency 1..32; the first also has a failed level (64, which
must not be drawn) and a level whose output length was not honoured (32, hollow marker).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bench.report import plotaxes, plots
from bench.report.plots import FIGURES, HOLLOW_NOTE, Series, write_all
from bench.schema.results import LevelResult
from tests.support import factories

CONCS = [1, 2, 4, 8, 16, 32]
CAPTION = "vlm-r1-ovd-800ta2 · Atlas 800T A2 · vllm-ascend v0.10.0rc1 · random_vl 640×640"


def level(parallel: int, factor: float, **kw: Any) -> LevelResult:
    """A level at `parallel`: throughput `factor` times higher, latency that much lower."""
    values: dict[str, Any] = {
        "succeeded": 4 * parallel,
        "output_tok_s": 18.0 * parallel * factor,
        "rps": 0.04 * parallel * factor,
        "latency_avg_s": 28.0 / factor + 0.1 * parallel,
        "ttft_avg_s": 0.3 + 0.03 * parallel,
        "ttft_p99_s": 0.5 + 0.1 * parallel,
        "tpot_avg_s": 0.05 / factor,
        "tpot_p99_s": 0.06 / factor,
        "expected_output_tokens": 512,
    }
    values.update(kw)
    return factories.level(parallel, **values)


def run_a() -> list[LevelResult]:
    levels = [level(c, 1.0) for c in CONCS]
    levels[-1].wrong_length = 3  # conc 32: output length not honoured
    # Out of order on purpose, and a failed level that must be skipped.
    return [levels[3], *levels[:3], *levels[4:], level(64, 1.0, status="failed", succeeded=0)]


def run_b() -> list[LevelResult]:
    return [level(c, 3.0) for c in CONCS]


@pytest.fixture
def series() -> list[Series]:
    return [("vllm-ascend", run_a()), ("xLLM", run_b())]


def run_lines(ax: Axes) -> dict[str, Line2D]:
    """The legend-labelled lines of a panel, by label."""
    lines = {str(ln.get_label()): ln for ln in ax.get_lines()}
    return {label: ln for label, ln in lines.items() if not label.startswith("_")}


def hollow_points(ax: Axes) -> list[tuple[float, float]]:
    return [
        (float(x), float(y))
        for ln in ax.get_lines()
        if ln.get_markerfacecolor() == "white"
        for x, y in np.asarray(ln.get_xydata()).tolist()
    ]


def texts(fig: Figure) -> str:
    return "\n".join(t.get_text() for t in fig.texts)


def assert_concurrency_axis(fig: Figure, ax: Axes) -> None:
    assert ax.get_xscale() == "log"
    assert ax.xaxis.get_transform().base == 2  # type: ignore[attr-defined]
    assert list(ax.get_xticks()) == CONCS
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(c) for c in CONCS]
    assert ax.get_xlabel().startswith("Concurrency")


PER_CONCURRENCY = [
    # figure, [(y-axis key, scale, words the panel's y label or title must show)]
    (plots.throughput, [("output_tok_s", 1.0, "tok/s"), ("rps", 1.0, "req/s")]),
    (plots.ttft, [("ttft_avg_s", 1000.0, "ms"), ("ttft_p99_s", 1000.0, "ms")]),
    (plots.tpot, [("tpot_avg_s", 1000.0, "ms"), ("tpot_p99_s", 1000.0, "ms")]),
]


@pytest.mark.parametrize(("build", "panels"), PER_CONCURRENCY)
def test_per_concurrency_figures(
    build: Callable[[list[Series], str], Figure],
    panels: list[tuple[str, float, str]],
    series: list[Series],
) -> None:
    fig = build(series, CAPTION)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(panels)
    assert tuple(fig.get_size_inches()) == (9.0, 4.5)
    for ax, (key, scale, unit) in zip(fig.axes, panels, strict=True):
        assert_concurrency_axis(fig, ax)
        lines = run_lines(ax)
        assert sorted(lines) == ["vllm-ascend", "xLLM"]
        for label, levels in series:
            drawn = [lv for lv in sorted(levels, key=lambda lv: lv.parallel) if lv.succeeded]
            assert list(lines[label].get_xdata()) == CONCS  # type: ignore[arg-type]
            assert list(lines[label].get_ydata()) == pytest.approx(  # type: ignore[arg-type]
                [lv.value(key) * scale for lv in drawn]
            )
        # Only run A's conc 32 is hollow.
        a32 = next(lv for lv in series[0][1] if lv.parallel == 32)
        assert hollow_points(ax) == [(32.0, pytest.approx(a32.value(key) * scale))]
        assert ax.get_ylim()[0] == 0
        assert ax.xaxis.get_gridlines()[0].get_visible()
        # Its own y label, or (avg/P99 panels on one scale) the first panel's.
        assert unit in (ax.get_ylabel() or fig.axes[0].get_ylabel())
    titles = [ax.get_title() for ax in fig.axes]
    assert all(t.endswith("vs concurrency") for t in titles)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["vllm-ascend", "xLLM"]
    assert CAPTION in texts(fig)
    assert HOLLOW_NOTE in texts(fig)


def test_avg_and_p99_panels_share_one_scale(series: list[Series]) -> None:
    for build in (plots.ttft, plots.tpot):
        avg, p99 = build(series, CAPTION).axes
        assert avg.get_ylim() == p99.get_ylim()
        key = "ttft_p99_s" if build is plots.ttft else "tpot_p99_s"
        top = max(lv.value(key) for _, levels in series for lv in plots.measured(levels))
        assert avg.get_ylim()[1] > top * 1000.0  # the highest P99 point is inside


def test_panel_titles_and_units(series: list[Series]) -> None:
    tp = plots.throughput(series, CAPTION)
    assert [ax.get_title() for ax in tp.axes] == [
        "Gen. toks/s vs concurrency",
        "RPS vs concurrency",
    ]
    assert "(tok/s)" in tp.axes[0].get_ylabel()
    assert "(req/s)" in tp.axes[1].get_ylabel()
    ttft = plots.ttft(series, CAPTION)
    assert [ax.get_title() for ax in ttft.axes] == [
        "Avg TTFT vs concurrency",
        "P99 TTFT vs concurrency",
    ]
    assert ttft.axes[0].get_ylabel() == "TTFT (ms)"
    assert plots.tpot(series, CAPTION).axes[0].get_ylabel() == "TPOT (ms)"


def test_latency_vs_throughput(series: list[Series]) -> None:
    fig = plots.latency_vs_throughput(series, CAPTION)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert tuple(fig.get_size_inches()) == (7.0, 4.5)
    assert "Gen. toks/s" in ax.get_xlabel() and "tok/s" in ax.get_xlabel()
    assert "(ms)" in ax.get_ylabel()  # latency in the display unit, as every other plot
    lines = run_lines(ax)
    assert sorted(lines) == ["vllm-ascend", "xLLM"]
    notes = [(t.get_text(), t.xy) for t in ax.texts]  # type: ignore[attr-defined]
    for label, levels in series:
        drawn = sorted((lv for lv in levels if lv.succeeded), key=lambda lv: lv.parallel)
        # Joined in concurrency order, x = generated tokens/s, y = average latency in ms.
        assert list(lines[label].get_xdata()) == [lv.output_tok_s for lv in drawn]  # type: ignore[arg-type]
        assert list(lines[label].get_ydata()) == [1000 * lv.latency_avg_s for lv in drawn]  # type: ignore[arg-type]
        for lv in drawn:
            assert (f"c={lv.parallel}", (lv.output_tok_s, 1000 * lv.latency_avg_s)) in notes
    assert sorted(t for t, _ in notes) == sorted(f"c={c}" for c in CONCS for _ in range(2))
    assert "c=64" not in {t for t, _ in notes}
    assert len(hollow_points(ax)) == 1
    assert HOLLOW_NOTE in texts(fig)


def test_hollow_note_only_when_needed() -> None:
    honest: list[Series] = [("xLLM", run_b())]
    for build in FIGURES.values():
        fig = build(honest, CAPTION)
        assert HOLLOW_NOTE not in texts(fig)
        assert CAPTION in texts(fig)
        assert all(not hollow_points(ax) for ax in fig.axes)


def test_a_long_caption_is_wrapped_not_cut() -> None:
    long = " · ".join(["vlm-r1-ovd-800ta2 Atlas-800T-A2 vllm-ascend-v0.10.0rc1"] * 6)
    fig = plots.throughput([("xLLM", run_b())], long)
    caption = texts(fig)
    assert caption.count("\n") >= 1
    assert caption.replace("\n", " ") == long  # broken only at spaces, never inside a name
    # Inside the image and below the panels (their tick labels and axis labels included).
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    box = fig.texts[0].get_window_extent(renderer)
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.x1
    assert all(box.y1 < ax.get_tightbbox(renderer).y0 for ax in fig.axes)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "series",
    [
        [],
        [("dead", [LevelResult(parallel=1, number=1, status="failed")])],
        [("empty", [])],
    ],
)
def test_no_data(series: list[Series]) -> None:
    for build in FIGURES.values():
        fig = build(series, CAPTION)
        (ax,) = fig.axes
        assert [t.get_text() for t in ax.texts] == ["no data"]
        assert CAPTION in texts(fig)
        fig.canvas.draw()  # renders without error


def test_crowded_concurrency_ticks_are_thinned() -> None:
    powers = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert plotaxes.labelled_ticks(powers) == set(powers)
    crowded = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 100, 200]
    shown = plotaxes.labelled_ticks(crowded)
    assert 1 in shown and len(shown) <= 10
    assert {3, 6, 12, 24} & shown == set()


def test_write_all(series: list[Series], tmp_path: Path) -> None:
    names = write_all(series, CAPTION, tmp_path / "a")
    assert names == [f"{n}.png" for n in FIGURES]
    assert names == ["throughput.png", "ttft.png", "tpot.png", "latency-throughput.png"]
    written = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert written == sorted([*names, *(n.replace(".png", ".svg") for n in names)])
    for name in names:
        png = (tmp_path / "a" / name).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        svg = (tmp_path / "a" / name.replace(".png", ".svg")).read_text()
        assert svg.lstrip().startswith("<?xml")
        assert "<dc:date>" not in svg
    # Reproducible: a second write gives the same SVG bytes.
    write_all(series, CAPTION, tmp_path / "b")
    for name in FIGURES:
        first = (tmp_path / "a" / f"{name}.svg").read_bytes()
        assert first == (tmp_path / "b" / f"{name}.svg").read_bytes(), name
