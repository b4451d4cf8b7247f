"""The server's own view of a level: `/metrics` scraped while it runs, summarised after.

A `LevelWatch` thread scrapes the Prometheus text about once a second (every 0.1 s until
the level's warm-up requests have finished, so the measured window starts right after
them) and samples the CPU time of the load generator process. Each sample keeps only the
figures below (`raw/level-NN/metrics.jsonl`, one JSON line each); the full text is kept
at the start and the end of the level.

`summarise` turns the samples into the per-level view: means of the gauges over the
client's measured window, counter deltas over the level (preemptions, cache hit rates
for every request it sent, warm-up included) and, from the deltas of vLLM's histograms'
`_sum` and `_count`, the server-side mean TTFT, queue and prefill time, TPOT and latency:
over the whole level (exact) and over the requests that finished after the warm-up
(exact only when `window_exact`; see `summarise`).
Metric names differ across vLLM versions; each figure lists the names it accepts.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.schema.views import ServerView

INTERVAL_S = 1.0
WARMUP_INTERVAL_S = 0.1
WARMUP_WAIT_S = 120.0  # poll at the normal rate after this, still watching for the warm-up

GAUGES = {
    "running": ("vllm:num_requests_running",),
    "waiting": ("vllm:num_requests_waiting",),
    "kv_usage": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
}
COUNTERS = {
    "preemptions": ("vllm:num_preemptions_total",),
    "prompt_tokens": ("vllm:prompt_tokens_total",),
    "generation_tokens": ("vllm:generation_tokens_total",),
    "prefix_queries": ("vllm:prefix_cache_queries_total", "vllm:gpu_prefix_cache_queries_total"),
    "prefix_hits": ("vllm:prefix_cache_hits_total", "vllm:gpu_prefix_cache_hits_total"),
    "mm_queries": ("vllm:mm_cache_queries_total",),
    "mm_hits": ("vllm:mm_cache_hits_total",),
}
# (sample key, histogram, LevelResult-style key of the client figure it stands beside)
HISTOGRAMS = {
    "ttft": "vllm:time_to_first_token_seconds",
    "queue": "vllm:request_queue_time_seconds",
    "prefill": "vllm:request_prefill_time_seconds",
    "tpot": "vllm:request_time_per_output_token_seconds",
    "e2e": "vllm:e2e_request_latency_seconds",
}

_LINE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\S+)?$")


def parse_prometheus(text: str) -> dict[str, float]:
    """Every series name summed over its label sets (engines, finish reasons), except
    histogram buckets, which are skipped. Unparseable lines are ignored."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line.strip())
        if match is None or match.group(1).endswith("_bucket"):
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        if math.isfinite(value):
            totals[match.group(1)] = totals.get(match.group(1), 0.0) + value
    return totals


def _first(totals: dict[str, float], names: tuple[str, ...]) -> float | None:
    return next((totals[n] for n in names if n in totals), None)


def sample_of(text: str) -> dict[str, Any]:
    """The figures one scrape contributes; None for a metric this server lacks."""
    totals = parse_prometheus(text)
    out: dict[str, Any] = {k: _first(totals, names) for k, names in (GAUGES | COUNTERS).items()}
    for key, name in HISTOGRAMS.items():
        s, n = totals.get(name + "_sum"), totals.get(name + "_count")
        out[key] = None if s is None or n is None else [s, n]
    return out


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class LevelWatch:
    """Scrapes a server's /metrics and a client's CPU time in a thread during one level.

    `start()` takes the opening scrape, `client(pid)` names the load generator once it
    runs, `stop()` takes the closing scrape and returns every sample. `warmup` is how
    many unmeasured requests open the level: sampling is fast until that many finished.
    """

    scrape: Callable[[], str | None]  # GET /metrics, None where there is none
    folder: Path
    warmup: int
    interval_s: float = INTERVAL_S
    samples: list[dict[str, Any]] = field(default_factory=list, init=False)
    has_metrics: bool = field(default=False, init=False)
    _pid: int | None = field(default=None, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def start(self) -> None:
        text = self.scrape()
        self.has_metrics = text is not None
        if text is not None:
            (self.folder / "metrics-start.prom").write_text(text)
        self._take(text, "start")
        self._thread = threading.Thread(target=self._loop, name="level-watch", daemon=True)
        self._thread.start()

    def client(self, pid: int) -> None:
        self._pid = pid

    def _take(self, text: str | None, phase: str = "") -> dict[str, Any]:
        sample: dict[str, Any] = {"t": time.perf_counter(), "wall": time.time()}
        if phase:
            sample["phase"] = phase
        if text is not None:
            sample.update(sample_of(text))
        if self._pid is not None:
            sample["client_cpu_s"] = process_cpu_s(self._pid)
        self.samples.append(sample)
        return sample

    def _warmup_done(self) -> bool:
        first, last = self.samples[0].get("e2e"), self.samples[-1].get("e2e")
        if first is None or last is None:
            return True
        return last[1] - first[1] >= self.warmup

    def _loop(self) -> None:
        fast_until = time.monotonic() + WARMUP_WAIT_S
        measuring = self.warmup == 0
        while True:
            fast = not measuring and time.monotonic() < fast_until
            # ±20 % jitter: a fixed period can alias with a level's waves of requests.
            wait = WARMUP_INTERVAL_S if fast else self.interval_s * random.uniform(0.8, 1.2)
            if self._stop.wait(wait):
                return
            sample = self._take(self.scrape() if self.has_metrics else None)
            if not measuring and self._warmup_done():
                measuring = True
                sample["phase"] = "measured"

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        text = self.scrape() if self.has_metrics else None
        if text is not None:
            (self.folder / "metrics.prom").write_text(text)
        self._take(text, "end")
        with (self.folder / "metrics.jsonl").open("w") as fh:
            for sample in self.samples:
                fh.write(json.dumps(sample) + "\n")
        return self.samples


def read_samples(path: Path) -> list[dict[str, Any]]:
    """A level's kept samples (`metrics.jsonl`); [] when absent."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def _baseline(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The sample that opens the measured window: the one marked when the warm-up had
    finished, else the level's first."""
    return next((s for s in samples if s.get("phase") == "measured"), samples[0])


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(
    samples: list[dict[str, Any]],
    window: tuple[float, float] | None,
    measured: int | None = None,
) -> ServerView:
    """The server's view of a level. `window` is the client's measured interval (first
    request start, last completion; perf_counter seconds, one clock for every process
    on the machine); `measured` is how many requests the client measured. Keys whose
    metric the server lacks are None.

    Histograms give two views. `level_<h>_*`: every request of the level, warm-up
    included, from the sample taken before the load generator starts to the one taken
    after it exits: exact, since no request is in flight at either end. `<h>_*`: from the
    sample that opened the measured window (the warm-up's requests all finished) — the
    client's requests, unless a scrape fell between a measured request's first token
    and its end (vLLM observes TTFT at the first token, latency at the end), or a
    measured request finished before that scrape. `window_exact` says whether the
    window's TTFT and latency counts both equal the client's: only then may the
    window's means stand beside the client's figures as the same requests."""
    out: dict[str, Any] = {}
    if len(samples) < 2:
        return ServerView()
    base, end = _baseline(samples), samples[-1]
    inside = [s for s in samples if window is None or window[0] <= s["t"] <= window[1]]
    out["samples"] = len(inside)
    if end.get("running") is not None:
        running = [s["running"] for s in inside if s.get("running") is not None]
        waiting = [s["waiting"] or 0.0 for s in inside if s.get("running") is not None]
        if running:
            out["running_mean"] = _mean(running)
            out["waiting_mean"] = _mean(waiting)
            out["waiting_max"] = max(waiting)
            in_flight = [r + w for r, w in zip(running, waiting, strict=True)]
            out["in_flight_mean"] = _mean(in_flight)
            # The median is the level's steady state: a sample that lands between two
            # waves (requests finished, the next still being uploaded) is not typical.
            out["in_flight_median"] = statistics.median(in_flight)
    kv = [s["kv_usage"] for s in inside if s.get("kv_usage") is not None]
    if kv:
        out["kv_usage_mean"], out["kv_usage_max"] = _mean(kv), max(kv)
    # Counters move when a request arrives or is scheduled, not when it finishes: over
    # the whole level (its warm-up too, whose data is as fresh as the rest).
    first = samples[0]
    for key in COUNTERS:
        if end.get(key) is not None and first.get(key) is not None:
            out[key] = end[key] - first[key]
    for kind in ("prefix", "mm"):
        queries = out.get(f"{kind}_queries")
        if queries:
            out[f"{kind}_hit_rate"] = out.get(f"{kind}_hits", 0.0) / queries
    for key in HISTOGRAMS:
        out.update(_histogram_delta(key, base, end, ""))
        out.update(_histogram_delta(key, first, end, "level_"))
    if measured is not None and "level_e2e_requests" in out:
        # (Named apart from `window`: reusing the name cut the client's CPU below.)
        counted = (out.get("ttft_requests", 0), out.get("e2e_requests", 0))
        out["window_exact"] = counted == (measured, measured)
    out.update(_client_cpu(samples, window))
    return ServerView(**out)


def _histogram_delta(
    key: str, base: dict[str, Any], end: dict[str, Any], prefix: str
) -> dict[str, Any]:
    """Mean and count of one histogram's observations between two samples."""
    if end.get(key) is None or base.get(key) is None:
        return {}
    count = end[key][1] - base[key][1]
    if count <= 0:
        return {}
    return {
        f"{prefix}{key}_avg_s": (end[key][0] - base[key][0]) / count,
        f"{prefix}{key}_requests": int(count),
    }


def _client_cpu(
    samples: list[dict[str, Any]], window: tuple[float, float] | None
) -> dict[str, Any]:
    """The load generator's CPU use (cores) over the window: mean, and the highest
    between two successive samples."""
    points = [
        (s["t"], s["client_cpu_s"])
        for s in samples
        if s.get("client_cpu_s") is not None
        and (window is None or window[0] <= s["t"] <= window[1])
    ]
    if len(points) < 2 or points[-1][0] <= points[0][0]:
        return {}
    rates = [(c1 - c0) / (t1 - t0) for (t0, c0), (t1, c1) in itertools.pairwise(points) if t1 > t0]
    return {
        "client_cpu_mean": (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0]),
        "client_cpu_max": max(rates),
    }
