"""compare, release-table and import-table: golden files for every markdown output, the
guide's figures from the published tables, and one-line errors for bad input.

Golden files live in tests/data/golden/; regenerate them only on purpose
(tests/support/__init__.py says how).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.analyze.compare import workload_difference
from bench.cli import main
from bench.config.published import REFERENCE_GUIDE, import_table, parse_reference_tables
from bench.config.scenario import load_scenario
from bench.report import compare, release
from bench.report.markdown import reference_table
from bench.schema.runwrite import write_run
from bench.schema.scenario import SloSpec
from tests.support.cli import last_error
from tests.support.factories import measured, reference
from tests.support.golden import assert_golden
from tests.support.paths import REFERENCE, SCENARIOS

REFERENCE_SCENARIO = SCENARIOS / "vlm-r1-ovd-800ta2.yaml"
XLLM_SCENARIO = SCENARIOS / "vlm-r1-ovd-xllm-800ta2.yaml"


def test_shipped_reference_runs_are_the_published_tables() -> None:
    """Import round trip: the shipped runs hold exactly the guide's tables."""
    tables = parse_reference_tables(REFERENCE_GUIDE.read_text())
    by_word = {heading.split()[0]: table for heading, table in tables.items()}
    for run_name, word, scenario in [
        ("vllm-ascend-800ta2", "vllm-ascend", REFERENCE_SCENARIO),
        ("xllm-800ta2", "xLLM", XLLM_SCENARIO),
    ]:
        shipped = reference(run_name)
        fresh = import_table(REFERENCE_GUIDE, run_name, load_scenario(scenario), word)
        assert fresh.to_dict() == shipped.to_dict()
        rendered = reference_table(shipped.levels)[0]
        assert parse_reference_tables(rendered) == {"": by_word[word]}
        assert [lv.number for lv in shipped.levels] == [4, 8, 16, 32, 64, 128]
        assert all(lv.succeeded == lv.number and lv.failed == 0 for lv in shipped.levels)
    assert_golden(
        "import-vllm-ascend-table.md",
        reference_table(reference("vllm-ascend-800ta2").levels)[0] + "\n",
    )


def test_compare_reproduces_the_guides_figures_from_its_tables() -> None:
    comparison = compare.compare([reference("vllm-ascend-800ta2"), reference("xllm-800ta2")])
    assert f"{comparison.change(1, 'output_tok_s', 1):.1f}" == "229.8"
    assert f"{comparison.change(1, 'output_tok_s', 32):.1f}" == "127.0"
    assert f"{comparison.change(1, 'ttft_avg_s', 1):.1f}" == "-41.9"
    (headline,) = comparison.headline()
    assert headline.startswith(
        "xllm-800ta2 vs vllm-ascend-800ta2: Gen. toks/s +229.8 % at concurrency 1, "
        "+127.0 % at 32; Avg TTFT −41.9 % at concurrency 1"
    )
    assert_golden("compare-reference.md", compare.render(comparison))


def test_compare_marks_failed_and_unhonoured_levels() -> None:
    base = reference("vllm-ascend-800ta2")
    runs = [base, measured(base, 1.1, "20261127-060000-aaaa")]
    assert_golden("compare-measured.md", compare.render(compare.compare(runs)))


def test_release_table_and_capacity() -> None:
    runs = [reference("vllm-ascend-800ta2"), reference("xllm-800ta2")]
    assert release.knee(runs[0].levels, 1.1) == 32
    assert release.knee(runs[1].levels, 1.1) == 4
    assert release.slo_capacity(runs[0].levels, 2.0, 0.06) == 8
    assert release.slo_capacity(runs[0].levels, 0.1, None) is None
    by = ["hardware", "backend", "version"]
    assert_golden("release-reference.md", release.render(runs, by))
    assert_golden("release-reference.csv", release.csv_text(runs, by))
    measured_run = measured(runs[0], 1.0, "20261127-060000-bbbb")
    measured_run.scenario.slo = SloSpec(ttft_p99_s=None, tpot_p99_s=None)
    text = release.render([measured_run], ["run"], factor=1.05)
    assert_golden("release-measured.md", text)


# ---- bad input: one line, exit 2 ------------------------------------------------------


def test_compare_missing_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = last_error(
        capsys, "compare", str(REFERENCE / "xllm-800ta2"), str(tmp_path / "nope")
    )
    assert code == 2 and err.startswith("vlm-bench: error: ") and "no such run" in err


def test_compare_corrupt_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run.json").write_text('{"run_id": "x", "levels": [')
    code, err = last_error(capsys, "compare", str(REFERENCE / "xllm-800ta2"), str(tmp_path))
    assert code == 2 and "unreadable run.json" in err


def test_compare_unequal_concurrency_sets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = reference("xllm-800ta2")
    run.levels = run.levels[:3]
    write_run(run, tmp_path)
    code, err = last_error(capsys, "compare", str(REFERENCE / "vllm-ascend-800ta2"), str(tmp_path))
    assert code == 2
    assert err == (
        "vlm-bench: error: concurrency levels differ: vllm-ascend-800ta2 has [1, 2, 4, 8, 16, "
        "32], xllm-800ta2 has [1, 2, 4] (--force compares the common ones)"
    )
    assert main(["compare", str(REFERENCE / "vllm-ascend-800ta2"), str(tmp_path), "--force"]) == 0
    assert "| 4     |" in capsys.readouterr().out


def test_compare_different_workloads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = reference("xllm-800ta2")
    run.scenario.load.image_width = 320
    write_run(run, tmp_path)
    code, err = last_error(capsys, "compare", str(REFERENCE / "vllm-ascend-800ta2"), str(tmp_path))
    assert code == 2
    assert err == (
        "vlm-bench: error: runs differ in load.image_width: vllm-ascend-800ta2 has 640, "
        "xllm-800ta2 has 320 (--force compares anyway)"
    )


def test_the_workload_is_every_load_field_but_the_named_ones() -> None:
    """Step 10: WORKLOAD_FIELDS was a hand-kept copy of LoadSpec's fields and left out
    `rate` and `extra_body`, so runs paced differently, or sent different request bodies,
    compared as one workload. Now every load field counts but those named NOT_WORKLOAD."""
    base = reference("xllm-800ta2")
    paced = reference("xllm-800ta2")
    paced.scenario.load.rate = 2.0
    assert workload_difference([base, paced]) == (
        "runs differ in load.rate: xllm-800ta2 has None, xllm-800ta2 has 2.0"
    )
    reseeded = reference("xllm-800ta2")
    reseeded.scenario.load.seed = 7  # other samples of the same workload
    assert workload_difference([base, reseeded]) is None


def test_import_table_with_a_missing_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = REFERENCE_GUIDE.read_text().replace("| P99 TTFT(s) ", "", 1)
    bad = tmp_path / "t.md"
    bad.write_text(text)
    code, err = last_error(
        capsys, "import-table", str(bad), "--name", "x", "--scenario", str(REFERENCE_SCENARIO)
    )
    assert code == 2
    assert err.startswith(f"vlm-bench: error: {bad}:14: table columns differ from the reference's")
    assert "(missing: P99 TTFT(s);" in err


def test_import_table_needs_a_choice_among_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = last_error(
        capsys,
        "import-table",
        str(REFERENCE_GUIDE),
        "--name",
        "x",
        "--scenario",
        str(REFERENCE_SCENARIO),
        "--out",
        str(tmp_path),
    )
    assert code == 2 and "2 tables; choose one with --table ('vllm-ascend', 'xLLM')" in err


def test_import_table_concurrency_outside_the_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = last_error(
        capsys,
        "import-table",
        str(REFERENCE_GUIDE),
        "--name",
        "x",
        "--table",
        "xLLM",
        "--scenario",
        str(SCENARIOS / "cpu-vllm-tiny.yaml"),
        "--out",
        str(tmp_path),
    )
    assert code == 2 and "has concurrency [8, 16, 32] that scenario cpu-vllm-tiny does not" in err


def test_release_table_bad_by(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = last_error(capsys, "release-table", str(REFERENCE / "xllm-800ta2"), "--by", "gpu")
    assert code == 2 and "allowed fields are hardware, backend, version, scenario, run" in err


def test_compare_needs_two_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = last_error(capsys, "compare", str(REFERENCE / "xllm-800ta2"))
    assert code == 2 and err == "vlm-bench: error: compare needs at least two runs"


def test_shipped_reference_runs_are_current_json() -> None:
    for name in ("vllm-ascend-800ta2", "xllm-800ta2"):
        data = json.loads((REFERENCE / name / "run.json").read_text())
        assert data["provenance"]["published"]["source"] == "vlm-r1-ovd-800ta2.md"


def test_compare_out_writes_markdown_and_overlay_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [str(REFERENCE / "vllm-ascend-800ta2"), str(REFERENCE / "xllm-800ta2")]
    assert main(["compare", *runs, "--out", str(tmp_path)]) == 0
    text = (tmp_path / "compare.md").read_text()
    assert text == capsys.readouterr().out
    for name in ("throughput", "ttft", "tpot", "latency-throughput"):
        assert f"![{name}.png]({name}.png)" in text
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
        assert (tmp_path / f"{name}.svg").exists()


def test_release_table_out_writes_md_and_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [str(REFERENCE / "vllm-ascend-800ta2"), str(REFERENCE / "xllm-800ta2")]
    assert main(["release-table", *runs, "--out", str(tmp_path)]) == 0
    assert (tmp_path / "release.md").read_text() == capsys.readouterr().out
    rows = (tmp_path / "release.csv").read_text().splitlines()
    assert rows[0].startswith("hardware,backend,version,parallel,status,rps,") and len(rows) == 13
