"""Accelerator telemetry in the result model and everything that reads it: run.json and
levels.csv, the idle check and re-judging, the report, compare, the gate and the store."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench.analyze import validity
from bench.analyze.gate import default_thresholds, gate
from bench.errors import UserError
from bench.measure import rejudge, telemetry
from bench.report import compare as compare_report
from bench.report.markdown import render_report
from bench.schema.metrics import BY_KEY, Better
from bench.schema.results import CheckStatus, LevelResult, RunResult, has_metric, median_level
from bench.schema.runfile import read_run
from bench.schema.runwrite import levels_csv, write_run
from bench.schema.scenario import ValiditySpec, scenario_hash
from bench.schema.views import TelemetryView
from bench.store.rows import run_rows
from tests.support import factories
from tests.support.telemetry import trace_samples

BUSY = (8.1, 14.8)


def busy(tokens: float = 50_000.0, scale: float = 1.0) -> TelemetryView:
    view = telemetry.summarise("nvml", trace_samples(), BUSY, tokens)
    return view.model_copy(update={"energy_per_token_j": (view.energy_per_token_j or 0) * scale})


def level_with(view: TelemetryView, parallel: int = 8, **fields: Any) -> LevelResult:
    lv = factories.level(parallel, succeeded=32, output_tokens_avg=512.0, **fields)
    lv.telemetry = view
    return lv


def test_energy_per_token_is_a_gated_lower_is_better_metric() -> None:
    metric = BY_KEY["energy_per_token_j"]
    assert metric.better is Better.LOWER and metric.band == 0.05 and metric.telemetry
    assert "energy_per_token_j" in default_thresholds()
    assert BY_KEY["output_tok_per_j"].better is Better.HIGHER


def test_run_json_keeps_telemetry_only_when_measured(tmp_path: Path) -> None:
    bare = factories.level(4, succeeded=16)
    assert "telemetry" not in bare.to_dict() and math.isnan(bare.energy_per_token_j)
    lv = level_with(busy())
    written = lv.to_dict()["telemetry"]
    assert written["source"] == "nvml" and written["energy_method"] == "counter"
    run = factories.run([lv, bare])
    write_run(run, tmp_path)
    back = read_run(tmp_path)
    assert back.levels[0].telemetry == lv.telemetry and back.levels[1].telemetry.empty
    assert back.levels[0].value("energy_per_token_j") == lv.telemetry.energy_per_token_j
    assert (
        "telemetry" not in json.loads((tmp_path / "run.json").read_text())["scenario"]["validity"]
    )  # its scenario fields are left out at their defaults
    header, first, second = levels_csv(run).splitlines()
    assert header.endswith("accel_energy_j,energy_per_token_j,output_tok_per_j")
    assert second.endswith(",,,,,") and not first.endswith(",,,,,")


def test_new_scenario_fields_keep_old_hashes() -> None:
    plain = factories.small_scenario()
    assert scenario_hash(plain) == scenario_hash(
        factories.small_scenario(validity={"telemetry": "auto", "min_accelerator_util": 0.1})
    )
    assert scenario_hash(plain) != scenario_hash(
        factories.small_scenario(validity={"min_accelerator_util": 0.3})
    )


def test_repeats_take_the_median_and_keep_agreed_words() -> None:
    a, b = level_with(busy(), repeat=1), level_with(busy(scale=1.2), repeat=2)
    out = median_level([a, b]).telemetry
    assert out.source == "nvml" and out.energy_method == "counter"
    assert out.energy_per_token_j == pytest.approx(1.1 * (a.telemetry.energy_per_token_j or 0))


def _accelerator(lv: LevelResult, limits: ValiditySpec | None = None) -> Any:
    checks = validity.judge_level(lv, lv.server, lv.client, limits or ValiditySpec())
    return next(c for c in checks if c.name == "accelerator")


def test_idle_accelerator_is_flagged_and_missing_telemetry_is_not_applicable() -> None:
    assert _accelerator(factories.level(4, succeeded=16)).status == CheckStatus.NOT_APPLICABLE
    ok = _accelerator(level_with(busy()))
    assert ok.status == CheckStatus.OK and "utilisation 99.2 % mean" in ok.detail
    idle = telemetry.summarise("npu-smi", trace_samples(energy=False), (0.5, 6.5), 100)
    check = _accelerator(level_with(idle))
    assert check.status == CheckStatus.FLAG
    assert "mostly idle" in check.detail and "validity.min_accelerator_util" in check.detail


def test_rejudging_with_another_idle_threshold(tmp_path: Path) -> None:
    lv = level_with(busy())
    lv.checks = validity.judge_level(lv, lv.server, lv.client, ValiditySpec())
    run = factories.run([lv])
    changes = rejudge.rejudge(run, {"validity.min_accelerator_util": 1.0}, tmp_path)
    assert run.levels[0].flags and "now flagged: accelerator" in changes[0]
    with pytest.raises(UserError, match=r"validity\.telemetry"):
        rejudge.thresholds(run, {"validity.telemetry": "off"})


def test_report_shows_the_table_only_when_measured() -> None:
    run = factories.stored("sim-quickstart")
    assert "Accelerator telemetry" not in render_report(run)
    run.levels[0].telemetry = busy()
    text = render_report(run)
    assert "### Accelerator telemetry" in text and "| nvml [0]" in text


def _pair(base_view: TelemetryView | None, cand_view: TelemetryView | None) -> list[RunResult]:
    runs = []
    for run_id, view in (("a", base_view), ("b", cand_view)):
        lv = factories.level(8, succeeded=32, output_tokens_avg=512.0, output_tok_s=1000.0)
        lv.rps, lv.tpot_avg_s, lv.ttft_avg_s, lv.ttft_p99_s, lv.tpot_p99_s = 2, 0.02, 0.1, 0.2, 0.03
        if view is not None:
            lv.telemetry = view
        runs.append(factories.run([lv], run_id=run_id))
    return runs


def test_gate_judges_energy_only_where_both_runs_measured_it() -> None:
    base, cand = _pair(busy(), busy(scale=1.3))
    result = gate(base, cand, default_thresholds())
    cell = next(c for c in result.cells if c.key == "energy_per_token_j")
    assert cell.verdict == "REGRESSION" and result.exit_code() == 1
    base, cand = _pair(busy(), None)
    result = gate(base, cand, default_thresholds())
    assert all(c.key != "energy_per_token_j" for c in result.cells) and result.exit_code() == 0
    assert not has_metric(cand, "energy_per_token_j") and has_metric(base, "energy_per_token_j")


def test_compare_has_an_energy_table_only_with_telemetry() -> None:
    with_energy = compare_report.render(compare_report.compare(_pair(busy(), busy(scale=1.1))))
    assert "## Energy" in with_energy and "+10.0" in with_energy
    plain = compare_report.render(compare_report.compare(_pair(None, None)))
    assert "## Energy" not in plain


def test_store_rows_carry_energy_from_the_registry(tmp_path: Path) -> None:
    base, _ = _pair(busy(), None)
    rows = run_rows(base, tmp_path)
    metrics = {m["metric"]: m["value"] for m in rows.metrics}
    assert metrics["energy_per_token_j"] == base.levels[0].telemetry.energy_per_token_j
    _, plain = _pair(None, None)
    assert "energy_per_token_j" not in {m["metric"] for m in run_rows(plain, tmp_path).metrics}
