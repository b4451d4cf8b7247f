"""`vlm-bench gate` on stored runs: the markdown verdict (golden), exit codes, bad input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench.analyze import gate
from bench.cli import main
from bench.report.gate import render as render_gate
from bench.schema.provenance import Provenance
from bench.schema.results import Check, CheckStatus, LevelStatus, RunResult
from bench.schema.runfile import read_run
from bench.schema.runwrite import write_run
from tests.support.cli import run_cli
from tests.support.factories import repeated
from tests.support.golden import assert_golden
from tests.support.paths import REFERENCE


def test_markdown_verdict_names_the_regressed_cells() -> None:
    base = read_run(REFERENCE / "vllm-ascend-800ta2")
    result = gate.gate(
        repeated(base, 1.0), repeated(base, 1.12, failed_at=32), gate.default_thresholds()
    )
    assert result.exit_code() == 1
    regressed = {(c.parallel, c.key) for c in result.cells if c.verdict == "REGRESSION"}
    assert (1, "tpot_avg_s") in regressed and (32, "output_tok_s") in regressed
    assert not any(key.startswith("ttft") for _, key in regressed)
    assert [c.detail for c in result.cells if c.verdict == "FAILED"] == [
        "new failed requests: 2 of 640"
    ]
    assert_golden("gate-regression.md", render_gate(result))


def test_identical_runs_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = REFERENCE / "xllm-800ta2"
    assert main(["gate", str(run), str(run), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## gate: PASS (36 cells at 6 levels, α = 0.05 / 6)")
    assert (tmp_path / "gate.md").read_text() == out


def test_strict_exit_3_on_suspect_only(tmp_path: Path) -> None:
    base = read_run(REFERENCE / "vllm-ascend-800ta2")
    (tmp_path / "a").mkdir()
    write_run(repeated(base, 1.0), tmp_path / "a")
    cand = repeated(base, 1.0)
    for lv in cand.levels:  # 8 % slower TPOT at 3 repeats of 5, 2 not: beyond band, overlaps
        if lv.parallel == 4 and lv.repeat in (1, 2, 5):
            lv.tpot_avg_s *= 1.20
    (tmp_path / "b").mkdir()
    write_run(cand, tmp_path / "b")
    assert main(["gate", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert main(["gate", str(tmp_path / "a"), str(tmp_path / "b"), "--strict"]) == 3


def test_mismatched_backend(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(
        capsys, "gate", str(REFERENCE / "vllm-ascend-800ta2"), str(REFERENCE / "xllm-800ta2")
    )
    assert code == 2 and err.strip() == (
        "vlm-bench: error: cannot gate: runs differ in backend: baseline 'vllm-ascend "
        "v0.10.0rc1', candidate 'xLLM' (--allow-mismatch to gate anyway)"
    )


def test_missing_cells(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = read_run(REFERENCE / "xllm-800ta2")
    run.levels = run.levels[:4]
    write_run(run, tmp_path)
    code, _, err = run_cli(capsys, "gate", str(REFERENCE / "xllm-800ta2"), str(tmp_path))
    assert code == 2 and "concurrency levels differ" in err and "--force" not in err


def test_bad_thresholds_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("thresholds: {tpot: {band: 0.1}}\n")
    run = str(REFERENCE / "xllm-800ta2")
    code, _, err = run_cli(capsys, "gate", run, run, "--thresholds", str(bad))
    assert code == 2 and err.startswith(f"vlm-bench: error: {bad}: unknown metric 'tpot'")
    code, _, err = run_cli(capsys, "gate", run, run, "--thresholds", str(tmp_path / "none.yaml"))
    assert code == 2 and "none.yaml: no such file" in err


def measured(run: RunResult, vllm: str, npu_sample: str) -> RunResult:
    """`run` as if measured: provenance from a recorded npu-smi and a server's packages."""
    from bench.measure.provenance import parse_npu_smi

    out = repeated(run, 1.0)
    text = (Path(__file__).parent.parent / "data" / "provenance" / npu_sample).read_text()
    out.provenance = Provenance.model_validate(
        {
            "cpu": "Kunpeng-920",
            "accelerators": {"npu": parse_npu_smi(text), "gpu": "absent"},
            "ascend": {"driver": "25.3.rc1", "cann": "8.2.RC1"},
            "packages": {"evalscope": "1.14.1"},
            "server": {"packages": {"vllm": vllm, "vllm-ascend": "0.10.0rc1", "torch": "2.5.1"}},
        }
    )
    return out


def test_differing_provenance_is_refused_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = read_run(REFERENCE / "vllm-ascend-800ta2")
    a, b = tmp_path / "a", tmp_path / "b"
    for path, run in (
        (a, measured(base, "0.10.0", "npu-smi-910b3-8.txt")),
        (b, measured(base, "0.10.1", "npu-smi-910b2-8-23.0.3.txt")),
    ):
        path.mkdir()
        write_run(run, path)
    code, _, err = run_cli(capsys, "gate", str(a), str(b))
    assert code == 2 and err.startswith("vlm-bench: error: cannot gate: runs differ in ")
    # Hardware first, then software; each names both values.
    assert "accelerator: 910B3 x8 vs 910B2 x8" in err and "vllm: 0.10.0 vs 0.10.1" in err
    assert err.index("accelerator") < err.index("vllm:")
    code, _, err = run_cli(capsys, "compare", str(a), str(b))
    assert code == 2 and "cannot compare: provenance differs" in err and "--allow-mismatch" in err
    assert main(["gate", str(a), str(b), "--allow-mismatch"]) == 0
    assert "**The runs differ** (gated anyway" in capsys.readouterr().out
    assert main(["compare", str(a), str(b), "--allow-mismatch"]) == 0
    assert "vllm: 0.10.0 vs 0.10.1" in capsys.readouterr().out
    # The same stack on both sides: nothing to refuse.
    assert main(["gate", str(a), str(a)]) == 0


def test_flagged_levels_are_named_in_the_verdict() -> None:
    base = read_run(REFERENCE / "vllm-ascend-800ta2")
    cand = repeated(base, 1.0)
    flag = Check("concurrency", CheckStatus.FLAG, "5.00 of 8 in flight")
    for lv in cand.levels:
        if lv.parallel == 8 and lv.repeat == 2:
            lv.checks = [flag]
    text = render_gate(gate.gate(repeated(base, 1.0), cand, gate.default_thresholds()))
    assert "**Flagged levels** (validity checks; see each run's report): candidate conc 8 " in text
    assert "(concurrency)" in text and "baseline conc" not in text


def test_a_measured_level_given_twice_is_refused_not_counted_as_two_repeats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: a run.json with the same (concurrency, repeat) measured twice was
    gated as two repeats, a larger sample that made differences look significant."""
    base = repeated(read_run(REFERENCE / "vllm-ascend-800ta2"), 1.0)
    cand = repeated(read_run(REFERENCE / "vllm-ascend-800ta2"), 1.0)
    copy = next(lv for lv in cand.levels if lv.parallel == 4 and lv.repeat == 2)
    cand.levels.append(copy)
    for name, run in (("a", base), ("b", cand)):
        (tmp_path / name).mkdir()
        write_run(run, tmp_path / name)
    code, _, err = run_cli(capsys, "gate", str(tmp_path / "a"), str(tmp_path / "b"))
    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("vlm-bench: error: cannot gate: the candidate has conc 4 repeat 2 ")
    assert f"and {len(cand.levels)} of its run.json" in line
    # A failed level beside its measured retry is one repeat, not a duplicate.
    copy = next(lv for lv in base.levels if lv.parallel == 4 and lv.repeat == 2)
    base.levels.append(replace(copy, status=LevelStatus.FAILED, succeeded=0, failed=10))
    assert gate.duplicate_repeat(base, "baseline") is None
