"""A minimal Prometheus text exposition with vLLM's metric names and buckets."""

from __future__ import annotations

import bisect
from collections.abc import Callable

TTFT_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
TOKEN_LATENCY_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
)
REQUEST_LATENCY_BUCKETS = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)


class Histogram:
    def __init__(self, name: str, doc: str, buckets: tuple[float, ...]) -> None:
        self.name, self.doc, self.buckets = name, doc, buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value

    def render(self, labels: str) -> list[str]:
        lines = [f"# HELP {self.name} {self.doc}", f"# TYPE {self.name} histogram"]
        cumulative = 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(float(bound))
            lines.append(f'{self.name}_bucket{{{labels},le="{le}"}} {float(cumulative)}')
        lines.append(f"{self.name}_count{{{labels}}} {float(cumulative)}")
        lines.append(f"{self.name}_sum{{{labels}}} {self.sum!r}")
        return lines


class Metrics:
    """Counters, gauges (read live through callables) and histograms of one server."""

    def __init__(self, model: str, gauges: dict[str, tuple[str, Callable[[], float]]]) -> None:
        self.labels = f'engine="0",model_name="{model}"'
        self.gauges = gauges
        self.counters: dict[str, tuple[str, float]] = {
            "vllm:prompt_tokens": ("Number of prefill tokens processed.", 0),
            "vllm:generation_tokens": ("Number of generation tokens processed.", 0),
            "vllm:num_preemptions": ("Cumulative number of preemption from the engine.", 0),
            "vllm:prefix_cache_queries": ("Prefix cache queries, in terms of tokens.", 0),
            "vllm:prefix_cache_hits": ("Prefix cache hits, in terms of tokens.", 0),
            "vllm:mm_cache_queries": ("Multi-modal cache queries, in terms of items.", 0),
            "vllm:mm_cache_hits": ("Multi-modal cache hits, in terms of items.", 0),
        }
        self.finished: dict[str, int] = {"stop": 0, "length": 0, "abort": 0, "error": 0}
        self.histograms = {
            h.name: h
            for h in (
                Histogram(
                    "vllm:time_to_first_token_seconds",
                    "Histogram of time to first token in seconds.",
                    TTFT_BUCKETS,
                ),
                Histogram(
                    "vllm:inter_token_latency_seconds",
                    "Histogram of inter-token latency in seconds.",
                    TOKEN_LATENCY_BUCKETS,
                ),
                Histogram(
                    "vllm:request_time_per_output_token_seconds",
                    "Histogram of time_per_output_token_seconds per request.",
                    TOKEN_LATENCY_BUCKETS,
                ),
                Histogram(
                    "vllm:e2e_request_latency_seconds",
                    "Histogram of e2e request latency in seconds.",
                    REQUEST_LATENCY_BUCKETS,
                ),
                Histogram(
                    "vllm:request_queue_time_seconds",
                    "Histogram of time spent in WAITING phase for request.",
                    REQUEST_LATENCY_BUCKETS,
                ),
                Histogram(
                    "vllm:request_prefill_time_seconds",
                    "Histogram of time spent in PREFILL phase for request.",
                    REQUEST_LATENCY_BUCKETS,
                ),
                Histogram(
                    "vllm:request_decode_time_seconds",
                    "Histogram of time spent in DECODE phase for request.",
                    REQUEST_LATENCY_BUCKETS,
                ),
                Histogram(
                    "vllm:request_inference_time_seconds",
                    "Histogram of time spent in RUNNING phase for request.",
                    REQUEST_LATENCY_BUCKETS,
                ),
            )
        }

    def add(self, counter: str, value: float) -> None:
        doc, current = self.counters[counter]
        self.counters[counter] = (doc, current + value)

    def observe(self, histogram: str, value: float) -> None:
        self.histograms[histogram].observe(value)

    def render(self) -> str:
        lines: list[str] = []
        for name, (doc, read) in self.gauges.items():
            lines += [
                f"# HELP {name} {doc}",
                f"# TYPE {name} gauge",
                f"{name}{{{self.labels}}} {float(read())!r}",
            ]
        for name, (doc, value) in self.counters.items():
            lines += [
                f"# HELP {name}_total {doc}",
                f"# TYPE {name} counter",
                f"{name}_total{{{self.labels}}} {float(value)!r}",
            ]
        name = "vllm:request_success"
        lines += [
            f"# HELP {name}_total Count of successfully processed requests.",
            f"# TYPE {name} counter",
        ]
        lines += [
            f'{name}_total{{{self.labels},finished_reason="{reason}"}} {float(n)}'
            for reason, n in self.finished.items()
        ]
        for hist in self.histograms.values():
            lines += hist.render(self.labels)
        return "\n".join(lines) + "\n"
