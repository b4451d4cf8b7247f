"""Levels matched by load point, not by concurrency alone: a rate sweep's levels commonly
share one concurrency cap (sweep.parallel [64] for every rate), and compare, the gate
(fixed and sequential) and the release table's capacity line must keep them apart.

Regression: compare paired levels by `parallel` only, so the second rate level under one
cap was never compared; the gate keyed its samples by `parallel`, so one rate level
silently overwrote another and was never gated.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.analyze import sequential
from bench.analyze.gate import default_thresholds, gate
from bench.errors import UserError
from bench.report import compare, release
from bench.report.compare_precision import precision_section
from bench.report.gate import render
from bench.report.sequential import render_sequential
from bench.report.summary import compare_summary, gate_summary, sequential_summary
from bench.schema.results import LevelResult, RunResult, load_point, point_label, point_order
from bench.schema.runwrite import write_run
from bench.schema.scenario import SloSpec
from tests.support.cli import run_cli
from tests.support.factories import run, small_scenario

CAP, RATES = 64, (1.0, 4.0)


def _level(index: int, rate: float | None, repeat: int = 1, slow: float = 1.0) -> LevelResult:
    """A measured level; `slow` scales its times (and divides its throughput)."""
    wobble = 1 + (repeat - 3) * 0.002
    return LevelResult(
        parallel=CAP if rate is not None else 8 * index,
        number=40,
        index=index,
        repeat=repeat,
        rate=rate,
        succeeded=40,
        rps=(rate or 2.0) * 0.95 / slow * wobble,
        output_tok_s=100.0 * (rate or 2.0) / slow * wobble,
        ttft_avg_s=0.2 * slow * wobble,
        ttft_p99_s=0.4 * slow * wobble,
        tpot_avg_s=0.02 * slow * wobble,
        tpot_p99_s=0.03 * slow * wobble,
    )


def _rate_run(
    run_id: str, repeats: int = 1, slow_at: float | None = None, rates: tuple[float, ...] = RATES
) -> RunResult:
    sweep = {"parallel": [CAP], "rate": list(rates), "number": [40] * len(rates)}
    scenario = small_scenario(sweep=sweep, slo={"ttft_p99_s": 0.5})
    levels = [
        _level(i, rate, r, 1.5 if rate == slow_at else 1.0)
        for i, rate in enumerate(rates, 1)
        for r in range(1, repeats + 1)
    ]
    return run(levels, run_id=run_id, scenario=scenario)


def _closed_run(run_id: str) -> RunResult:
    return run([_level(1, None), _level(2, None)], run_id=run_id)


def test_a_load_points_label_and_order() -> None:
    assert point_label((8, None)) == "8"
    assert point_label((64, 2.0)) == "64 @ 2 req/s"
    assert point_label((64, 0.25)) == "64 @ 0.25 req/s"
    points = [(64, 4.0), (16, None), (64, 1.0), (4, None), (64, None)]
    assert sorted(points, key=point_order) == [
        (4, None),
        (16, None),
        (64, None),
        (64, 1.0),
        (64, 4.0),
    ]
    assert load_point(_level(2, 4.0)) == (64, 4.0)


def test_two_rate_levels_under_one_cap_are_both_compared() -> None:
    comparison = compare.compare([_rate_run("a"), _rate_run("b", slow_at=4.0)])
    assert comparison.levels == [(CAP, 1.0), (CAP, 4.0)]
    assert comparison.change(1, "tpot_avg_s", (CAP, 1.0)) == pytest.approx(0.0)
    assert comparison.change(1, "tpot_avg_s", (CAP, 4.0)) == pytest.approx(50.0)
    table = comparison.table(("tpot_avg_s",))
    assert table.splitlines()[0].startswith("| Conc. @ rate |")
    assert "| 64 @ 1 req/s " in table and "| 64 @ 4 req/s " in table and "+50.0 %" in table
    assert "at concurrency 64 @ 1 req/s, +50.0 % at 64 @ 4 req/s" in comparison.headline()[0]
    assert "change against A at the same level (concurrency and rate)." in compare.render(
        comparison
    )
    summary = compare_summary(comparison)
    assert summary["levels"] == [CAP, CAP] and summary["rates"] == list(RATES)
    assert summary["changes"]["tpot_avg_s"]["64 @ 4 req/s"] == [pytest.approx(50.0)]


def test_the_precision_section_keeps_rate_levels_apart() -> None:
    comparison = compare.compare([_rate_run("a", 3), _rate_run("b", 3, slow_at=1.0)])
    rows = precision_section(comparison.raw, comparison.levels).splitlines()[2:]
    assert [row.split("|")[1].strip() for row in rows] == ["64 @ 1 req/s", "64 @ 4 req/s"]
    assert "—" not in rows[0] + rows[1]  # both runs found at both points
    assert "+49.3 % … +50.7 %" in rows[0] and "+49.3 %" not in rows[1]  # slowed at 1 req/s


def test_rate_levels_that_differ_are_named_by_their_labels() -> None:
    with pytest.raises(UserError) as err:
        compare.compare([_rate_run("a"), _rate_run("b", rates=(1.0,))])
    assert str(err.value) == (
        "levels differ: s a has [64 @ 1 req/s, 64 @ 4 req/s], s b has [64 @ 1 req/s] "
        "(--force compares the common ones)"
    )
    forced = compare.compare([_rate_run("a"), _rate_run("b", rates=(1.0,))], force=True)
    assert forced.levels == [(CAP, 1.0)]


@pytest.mark.parametrize("slow_at", RATES)
def test_a_regression_at_one_rate_level_is_gated_and_named_with_its_rate(slow_at: float) -> None:
    result = gate(_rate_run("a", 5), _rate_run("b", 5, slow_at=slow_at), default_thresholds())
    assert result.levels == 2 and {c.rate for c in result.cells} == set(RATES)
    bad = [c for c in result.cells if c.verdict == "REGRESSION"]
    assert bad and {(c.parallel, c.rate) for c in bad} == {(CAP, slow_at)}
    assert result.exit_code() == 1
    assert f"conc 64 @ {slow_at:g} req/s " in result.summary()
    assert f"| 64 @ {slow_at:g} req/s " in render(result)
    cells = gate_summary(result, strict=False)["cells"]
    assert {c["rate"] for c in cells if c["verdict"] == "REGRESSION"} == {slow_at}
    assert list(cells[0])[:3] == ["parallel", "rate", "metric"]


def test_a_closed_loop_gate_cell_has_no_rate_in_its_json() -> None:
    base = run([_level(1, None, r) for r in range(1, 6)])
    cells = gate_summary(gate(base, base, default_thresholds()), strict=False)["cells"]
    assert cells and all("rate" not in c and c["parallel"] == 8 for c in cells)


def test_the_sequential_gate_keeps_rate_levels_apart() -> None:
    bands = {k: (t.band, t.floor) for k, t in default_thresholds().items()}
    bands.pop("energy_per_token_j")
    base, cand = _rate_run("a", 5), _rate_run("b", 5, slow_at=4.0)
    state, cells = sequential.gate_look(base, cand, bands, (0.05, 0.05), (5, 5))
    assert state == sequential.REGRESSION
    assert {c.rate for c in cells} == set(RATES)
    bad = {(c.parallel, c.rate) for c in cells if c.look.decision == sequential.REGRESSION}
    assert bad == {(CAP, 4.0)}
    text = render_sequential(state, 5, 5, cells)
    assert "| Conc. @ rate |" in text and "| 64 @ 4 req/s |" in text
    rows = sequential_summary(state, 5, cells)["cells"]
    assert {c["rate"] for c in rows if c["decision"] == sequential.REGRESSION} == {4.0}


def test_a_rate_sweep_and_a_closed_loop_run_share_no_point() -> None:
    for runs in ([_closed_run("a"), _rate_run("b")], [_rate_run("b"), _closed_run("a")]):
        with pytest.raises(UserError, match="share no load point"):
            compare.compare(runs, force=True)
    with pytest.raises(UserError, match="share no load point"):
        gate(_closed_run("a"), _rate_run("b"), default_thresholds())


def test_compare_refuses_a_rate_sweep_against_a_closed_loop_run_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, made in (("a", _closed_run("a")), ("b", _rate_run("b"))):
        (tmp_path / name).mkdir()
        write_run(made, tmp_path / name)
    code, out, err = run_cli(capsys, "compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert code == 2 and not out
    assert err == (
        "vlm-bench: error: the runs share no load point: s a is a closed-loop run "
        "(concurrency [8, 16]), s b a rate sweep ([64 @ 1 req/s, 64 @ 4 req/s])\n"
    )


def test_a_rate_sweeps_capacity_speaks_in_rates() -> None:
    sweep = _rate_run("a", rates=(1.0, 2.0, 4.0))
    sweep.levels[2].ttft_p99_s = 0.6  # 4 req/s misses the SLO (P99 TTFT <= 0.5 s)
    line = release.capacity_line(sweep, 1.1)
    assert line == (
        "s a: max RPS 3.78 at 4 req/s (concurrency cap 64); no knee (it is defined over "
        "concurrency, not arrival rate); SLO (P99 TTFT ≤ 0.5 s) met up to 2 req/s"
    )
    assert release.slo_rate(sweep.levels, 0.1, None) is None
    assert release.knee(sweep.levels, 1.1) is None
    assert "A rate sweep has no knee" in release.render([sweep], ["run"])
    sweep.scenario.slo = SloSpec(ttft_p99_s=0.1, tpot_p99_s=None)
    assert release.capacity_line(sweep, 1.1).endswith("SLO (P99 TTFT ≤ 0.1 s) met at no level")
