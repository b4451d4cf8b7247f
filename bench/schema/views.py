"""A level's two side views, typed: the server's (`ServerView`, from its /metrics) and the
load generator's (`ClientView`, from its own request records).

Writers: bench.measure.servermetrics.summarise and bench.measure.parse.client_stats.
Readers: the validity checks, the report's server tables, re-judging. Every key a writer
can produce is a field here (tests/unit/test_views.py checks it against the servermetrics
tables), so a renamed key fails a test instead of silently reading as absent.

Every field is optional: None is "not measured" (a server without /metrics, a histogram
it lacks) and is left out of run.json, so a view stores only what was measured. Field
order is the writers' order: run.json keeps its key order.
"""

from __future__ import annotations

import statistics
from typing import Any, Self

from pydantic import BaseModel, ConfigDict

# Strict: a figure stored as "1.5" is a corrupt file, not a number to coerce.
_CONFIG = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class _View(BaseModel):
    model_config = _CONFIG

    @property
    def empty(self) -> bool:
        """Nothing measured (no /metrics, no request records)."""
        return all(getattr(self, name) is None for name in type(self).model_fields)

    def to_dict(self) -> dict[str, Any]:
        """The view as run.json stores it: measured figures only."""
        return self.model_dump(exclude_none=True)

    @classmethod
    def median(cls, views: list[Self]) -> Self:
        """Each figure over the repeats that have it: floats their median, counts the
        lower median (an observed count), flags true only if true in every repeat;
        lists (the client's window) and words are not carried: they belong to one repeat."""
        out: dict[str, Any] = {}
        for name, info in cls.model_fields.items():
            values = [v for view in views if (v := getattr(view, name)) is not None]
            if not values or isinstance(values[0], list | str):
                continue
            if info.annotation == bool | None:
                out[name] = all(values)
            elif info.annotation == int | None:
                out[name] = statistics.median_low(values)
            else:
                out[name] = statistics.median(values)
        return cls(**out)


class ServerView(_View):
    """bench.measure.servermetrics.summarise: gauges over the client's measured window,
    counter deltas over the level, histogram means over the window (`<h>_*`) and over the
    whole level (`level_<h>_*`), and the load generator's CPU use (cores)."""

    samples: int | None = None  # /metrics samples inside the window
    running_mean: float | None = None
    waiting_mean: float | None = None
    waiting_max: float | None = None
    in_flight_mean: float | None = None
    in_flight_median: float | None = None
    kv_usage_mean: float | None = None
    kv_usage_max: float | None = None
    # servermetrics.COUNTERS, deltas over the level
    preemptions: float | None = None
    prompt_tokens: float | None = None
    generation_tokens: float | None = None
    prefix_queries: float | None = None
    prefix_hits: float | None = None
    mm_queries: float | None = None
    mm_hits: float | None = None
    prefix_hit_rate: float | None = None
    mm_hit_rate: float | None = None
    # servermetrics.HISTOGRAMS: mean (s) and count, over the window and the whole level
    ttft_avg_s: float | None = None
    ttft_requests: int | None = None
    level_ttft_avg_s: float | None = None
    level_ttft_requests: int | None = None
    queue_avg_s: float | None = None
    queue_requests: int | None = None
    level_queue_avg_s: float | None = None
    level_queue_requests: int | None = None
    prefill_avg_s: float | None = None
    prefill_requests: int | None = None
    level_prefill_avg_s: float | None = None
    level_prefill_requests: int | None = None
    tpot_avg_s: float | None = None
    tpot_requests: int | None = None
    level_tpot_avg_s: float | None = None
    level_tpot_requests: int | None = None
    e2e_avg_s: float | None = None
    e2e_requests: int | None = None
    level_e2e_avg_s: float | None = None
    level_e2e_requests: int | None = None
    # The window's TTFT and latency counts both equal the client's measured requests.
    window_exact: bool | None = None
    client_cpu_mean: float | None = None
    client_cpu_max: float | None = None


class ClientView(_View):
    """bench.measure.parse.client_stats: the load generator's own account of the level."""

    window: list[float] | None = None  # [first start, last completion], perf_counter s
    in_flight_mean: float | None = None
    start_delay_p50_s: float | None = None
    start_delay_p90_s: float | None = None
    start_delay_max_s: float | None = None
    # The client's own error at this level's shape, measured against a server with known
    # timings (bench/measure/calibrate.py): an upper bound (mean + 2 standard errors) on how
    # much of the level's mean TTFT / TPOT is the load generator's. None: not calibrated.
    ttft_error_s: float | None = None
    tpot_error_s: float | None = None


class TelemetryView(_View):
    """bench.measure.telemetry.summarise: the accelerators the server used, over the
    client's measured window (docs/telemetry.md). Utilisation is the devices' mean;
    memory and power are their totals; energy is by NVML's counter where every device
    has one (`energy_method` "counter"), else ∫ power dt ("integral")."""

    source: str | None = None  # nvml | nvidia-smi | npu-smi
    devices: list[int] | None = None  # the device ids sampled
    samples: int | None = None  # readings inside the window
    interval_s: float | None = None  # median time between readings
    util_mean_pct: float | None = None  # time-weighted, the devices' mean
    util_max_pct: float | None = None
    memory_used_max_mb: float | None = None
    memory_total_mb: float | None = None
    power_mean_w: float | None = None
    power_max_w: float | None = None
    temperature_max_c: float | None = None
    energy_integral_j: float | None = None
    energy_counter_j: float | None = None
    energy_j: float | None = None
    energy_method: str | None = None  # counter | integral
    output_tokens: int | None = None  # of the measured requests: energy is divided by it
    energy_per_token_j: float | None = None
    output_tok_per_j: float | None = None

    @classmethod
    def median(cls, views: list[Self]) -> Self:
        """As `_View.median` for the figures; the words (source, method) kept when every
        repeat agrees."""
        out = super().median(views).model_dump(exclude_none=True)
        for name in ("source", "energy_method"):
            words = {getattr(v, name) for v in views if getattr(v, name) is not None}
            if len(words) == 1:
                out[name] = words.pop()
        return cls(**out)


class WorkloadView(_View):
    """What a `workload:` level sent, and what the server said it saw
    (bench/measure/seen.py; docs/workloads.md): the measured requests' images, pixels and
    bytes, the multimodal-cache hit rate the workload implies, the prompt tokens the
    server reported against those the model's image-resize rule predicts, and for a trace
    the schedule slip (sent − planned)."""

    fingerprint: str | None = None  # the workload's (bench/workload/fingerprint.py)
    requests: int | None = None  # measured requests matched to a prepared one
    images: int | None = None
    pixels: int | None = None
    image_bytes: int | None = None  # encoded images, before base64
    videos: int | None = None  # a `workload.video` level's; None without videos
    frames: int | None = None  # the videos' frames
    video_bytes: int | None = None  # their JPEG frames, before base64
    body_bytes: int | None = None  # the requests' JSON bodies: bytes on the wire
    expected_mm_hit_rate: float | None = None  # repeats of an item sent earlier (0-1)
    # One client process: every request in send order (warm-up first), its multimodal
    # items (images, and videos: one item each) and how many of them repeat an earlier
    # one, so the hit rate the server's counter window should show is known exactly
    # (`expected_hit_rate_of_last`).
    sent_images: list[int] | None = None
    sent_repeats: list[int] | None = None
    pixels_rule: str | None = None  # min/max pixels used for the prediction, and whence
    video_pixels_rule: str | None = None  # a video frame's, when the level sent videos
    tokens_checked: int | None = None  # requests whose prompt tokens were compared
    tokens_mismatched: int | None = None
    tokens_example: str | None = None  # the first mismatch, in words
    slip_p50_s: float | None = None  # trace replay: sent − planned
    slip_p99_s: float | None = None
    slip_max_s: float | None = None

    def expected_hit_rate_of_last(self, images: float) -> float | None:
        """The repeats' share among the last `images` images sent (the server's counter
        window), from the per-request lists; the measured requests' rate without them."""
        if not self.sent_images or not self.sent_repeats or images <= 0:
            return self.expected_mm_hit_rate
        seen = hits = 0.0
        pairs = zip(reversed(self.sent_images), reversed(self.sent_repeats), strict=True)
        for count, repeats in pairs:
            if seen >= images:
                break
            if count:
                take = min(count, images - seen)
                hits += repeats * take / count
                seen += take
        return hits / seen if seen else self.expected_mm_hit_rate
