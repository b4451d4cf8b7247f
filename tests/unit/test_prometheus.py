"""The simulator's /metrics text: vLLM names, cumulative buckets, parseable."""

from __future__ import annotations

from bench.sim.metrics import Metrics


def parse(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_histogram_buckets_are_cumulative_and_sum_count_exact() -> None:
    m = Metrics("m", {"vllm:num_requests_running": ("doc", lambda: 3)})
    for v in (0.003, 0.05, 0.05, 7.0):
        m.observe("vllm:time_to_first_token_seconds", v)
    m.add("vllm:generation_tokens", 12)
    m.finished["length"] += 2
    values = parse(m.render())
    lab = 'engine="0",model_name="m"'
    assert values[f"vllm:num_requests_running{{{lab}}}"] == 3
    assert values[f"vllm:generation_tokens_total{{{lab}}}"] == 12
    assert values[f'vllm:request_success_total{{{lab},finished_reason="length"}}'] == 2
    name = "vllm:time_to_first_token_seconds"
    assert values[f'{name}_bucket{{{lab},le="0.005"}}'] == 1
    assert values[f'{name}_bucket{{{lab},le="0.06"}}'] == 3
    assert values[f'{name}_bucket{{{lab},le="+Inf"}}'] == 4
    assert values[f"{name}_count{{{lab}}}"] == 4
    assert values[f"{name}_sum{{{lab}}}"] == 0.003 + 0.05 + 0.05 + 7.0
