"""Per-level validity checks: is this level a measurement of what the scenario asked for?

The common ways a serving benchmark misleads, each checked from data the level left:
the level ended early (partial), the fixed output length was not produced (`ignore_eos`
ignored), requests failed (blamed on the server unless the client was saturated), the
server did not see the target concurrency (the load generator, a rate limit or another
tenant decided it), caches warmed by earlier requests flattered the level, the load
generator itself was saturated (its CPU, its delay in starting a request after a slot
freed), the client measured much more latency than the server did, the accelerator sat
mostly idle (bench/measure/telemetry.py), the client's own error, self-measured at
the level's shape, exceeds the tolerance (bench/analyze/clienterror.py), and a cheap
warm-up was too short to carry the level's opening burst (bench/analyze/warmup.py).

Pure judgement, no I/O: `judge` is the one call every path makes (measuring a level,
calibrating the client, re-judging a stored run), and `trust` counts a run's trusted levels.

A check is `ok`, `flag` (with the reason) or `n/a` (its data is missing, e.g. a server
without /metrics). A flagged level stays in the results, marked, never silently valid.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.analyze import clienterror, warmup
from bench.schema.metrics import DISPLAY_SCALE
from bench.schema.results import Check, CheckStatus, LevelResult
from bench.schema.scenario import Scenario, ValiditySpec
from bench.schema.views import ClientView, ServerView

# Chat-template tokens every request shares (Qwen's default system prompt is ~20 tokens;
# vLLM caches whole blocks of 16): hits up to two blocks are expected of random prompts.
TEMPLATE_PREFIX_TOKENS = 32
MIN_SAMPLES = 10  # /metrics samples in the window before the server's concurrency is judged
# Times are stored in seconds and shown as the metric registry shows them (ms).
MS, SCALE = DISPLAY_SCALE["s"]


def _check(name: str, flagged: bool | None, detail: str) -> Check:
    status = (
        CheckStatus.NOT_APPLICABLE
        if flagged is None
        else (CheckStatus.FLAG if flagged else CheckStatus.OK)
    )
    return Check(name, status, detail)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _output_length(level: LevelResult) -> Check:
    if level.expected_output_tokens is None:
        return _check("output length", None, "the load does not fix the output length")
    if level.wrong_length:
        return _check(
            "output length",
            True,
            f"{level.wrong_length} of {level.succeeded} requests did not produce "
            f"{level.expected_output_tokens} tokens (got {level.output_tokens_min}"
            f"..{level.output_tokens_max})",
        )
    return _check("output length", False, f"all {level.expected_output_tokens} tokens")


def _client_idle(server: ServerView, lim: ValiditySpec) -> bool:
    """The load generator had CPU to spare (or we cannot tell otherwise)."""
    cpu = server.client_cpu_mean
    return cpu is None or cpu <= lim.max_client_cpu


def _success(level: LevelResult, server: ServerView, lim: ValiditySpec) -> Check:
    """Failed requests, blamed on the server unless the client was saturated: evalscope
    keeps no status code, but a request that failed while the client idled was refused,
    cut or left unanswered by the server. Flagged beyond `max_failed_ratio` (default 0)."""
    sent = level.succeeded + level.failed
    if not level.failed:
        return _check("success", False, f"{sent} of {sent}")
    ratio = level.failed / sent
    counts = f"{level.failed} of {sent} requests failed ({_pct(ratio)})"
    timed_out, timeout_s = level.diagnostics.timed_out, level.diagnostics.request_timeout_s
    if timed_out:
        counts += (
            f", {timed_out} of them timed out after {timeout_s or 0:g} s (load.request_timeout_s)"
        )
    if _client_idle(server, lim):
        detail = f"server: {counts}"
    else:
        detail = f"{counts}; the load generator was saturated too, so either may be at fault"
    flagged = ratio > lim.max_failed_ratio
    if not flagged:
        detail += f" (within validity.max_failed_ratio {_pct(lim.max_failed_ratio)})"
    return _check("success", flagged, detail)


def _complete(level: LevelResult) -> list[Check]:
    """A partial level (interrupted, timed out, its server died) measured fewer requests
    than asked: never "all checks passed", never a capacity claim. Only partial levels
    carry this check, so complete levels keep the checks they always had."""
    if level.status != "partial":
        return []
    recorded = level.succeeded + level.failed
    detail = f"partial, {recorded} of {level.number} requests recorded: {level.reason}"
    return [_check("complete", True, detail)]


def _concurrency(
    level: LevelResult, server: ServerView, client: ClientView, lim: ValiditySpec
) -> Check:
    """Requests in flight against the level's `parallel`, two ways: the server's view, the
    median of its `running + waiting` samples over the measured window (judged with at
    least MIN_SAMPLES of them: fewer can alias with the level's waves); and the client's,
    the exact mean of its own requests in flight (below target: the load generator did
    not keep up). A VLM server's gauges miss requests still in its front end (image
    preprocessing), so the server's view may read low while the client's is whole."""
    target, tol = level.parallel, lim.concurrency_tolerance
    median, samples = server.in_flight_median, server.samples or 0
    mean = client.in_flight_mean
    if median is None and mean is None:
        return _check("concurrency", None, "no samples")
    parts, flagged = [], False
    if median is not None:
        judged = samples >= MIN_SAMPLES
        off = abs(median - target) / target
        parts.append(
            f"server {median:.2f} of {target} (median of {samples} samples; running "
            f"{server.running_mean:.2f}, waiting {server.waiting_mean:.2f} on average)"
            + ("" if judged else ", too few samples to judge")
        )
        if judged and off > tol:
            parts[-1] += f" — {_pct(off)} off"
            flagged = True
    if mean is not None:
        parts.append(f"client {mean:.2f} of {target} (mean)")
        if mean < (1 - tol) * target and level.failed and _client_idle(server, lim):
            # A failed request frees its slot early (an error answered at once, a cut
            # stream): the shortfall is the server's errors, not a slow client.
            parts[-1] += f" — not judged: {level.failed} failed requests, the client idle"
        elif mean < (1 - tol) * target:
            parts[-1] += f" — {_pct(1 - mean / target)} short: the load generator fell behind"
            flagged = True
    return _check("concurrency", flagged, "; ".join(parts))


def _caches(
    level: LevelResult, server: ServerView, lim: ValiditySpec, prefix_length: int
) -> list[Check]:
    out = []
    rate = server.mm_hit_rate
    expected = level.workload.expected_hit_rate_of_last(server.mm_queries or 0)
    if rate is None:
        out.append(_check("mm cache", None, "no multimodal-cache counters"))
    elif expected is not None:  # a workload that repeats images on purpose
        off = abs(rate - expected)
        detail = (
            f"hit rate {_pct(rate)} of {server.mm_queries:.0f} images; the workload repeated "
            f"{_pct(expected)} of those"
        )
        if off > lim.mm_hit_tolerance:
            detail += f" — {off * 100:.1f} points off (tolerance {lim.mm_hit_tolerance * 100:g})"
        out.append(_check("mm cache", off > lim.mm_hit_tolerance, detail))
    else:
        detail = f"hit rate {_pct(rate)} of {server.mm_queries:.0f} images"
        if rate > lim.max_mm_cache_hit_rate:
            detail += f" (expected ≤ {_pct(lim.max_mm_cache_hit_rate)}: images repeated)"
        out.append(_check("mm cache", rate > lim.max_mm_cache_hit_rate, detail))
    rate = server.prefix_hit_rate
    if rate is None:
        out.append(_check("prefix cache", None, "no prefix-cache counters"))
        return out
    limit = lim.max_prefix_cache_hit_rate
    if limit is None:  # the shared prefix the load asked for, plus the chat template
        tokens = level.input_tokens_avg or 1.0
        limit = min(1.0, (prefix_length + TEMPLATE_PREFIX_TOKENS) / tokens)
    detail = f"hit rate {_pct(rate)} of {server.prefix_queries:.0f} prompt tokens"
    if rate > limit:
        detail += f" (expected ≤ {_pct(limit)})"
    out.append(_check("prefix cache", rate > limit, detail))
    return out


def _server_saw(level: LevelResult) -> list[Check]:
    """A workload level's prompt tokens as the server reported them against the model's
    image-resize rule (bench/measure/seen.py): a mismatch means the server dropped,
    resized or counted the images otherwise than the rule says."""
    view = level.workload
    if view.empty:
        return []
    if not view.tokens_checked:
        return [_check("server saw", None, "no prompt tokens to compare (no tokenizer?)")]
    rule = view.pixels_rule
    if view.videos:
        rule = f"videos: {view.video_pixels_rule}"
    if view.tokens_mismatched:
        detail = (
            f"{view.tokens_mismatched} of {view.tokens_checked} requests' prompt tokens "
            f"differ from the prediction: {view.tokens_example}; {rule}"
        )
        return [_check("server saw", True, detail)]
    carried = f"{view.images} images"
    if view.videos:
        carried = f"{view.videos} videos, {view.frames} frames"
    detail = (
        f"{view.tokens_checked} requests' prompt tokens as the resize rule predicts "
        f"({carried}, {rule})"
    )
    return [_check("server saw", False, detail)]


def _client(
    level: LevelResult,
    server: ServerView,
    client: ClientView,
    lim: ValiditySpec,
    paced: bool,
) -> Check:
    cpu, delay = server.client_cpu_mean, client.start_delay_p90_s
    if cpu is None and delay is None:
        return _check("client", None, "no CPU samples or request starts")
    parts, flagged = [], False
    if cpu is not None:
        parts.append(f"CPU {cpu:.2f} cores (max {server.client_cpu_max:.2f})")
        if cpu > lim.max_client_cpu:
            parts[-1] += f" > {lim.max_client_cpu:g}"
            flagged = True
    if delay is not None and paced:
        parts.append("start delay not checked (load.rate paces the starts)")
    elif delay is not None and level.failed and _client_idle(server, lim):
        # Slots are paired with completions in order; failed requests break the pairing.
        parts.append(
            f"P90 start delay {SCALE * delay:.1f} {MS} not judged ({level.failed} failed requests)"
        )
    elif delay is not None:
        parts.append(f"P90 start delay {SCALE * delay:.1f} {MS}")
        if delay > lim.max_start_delay_s:
            parts[-1] += f" > {SCALE * lim.max_start_delay_s:g} {MS}"
            flagged = True
    return _check("client", flagged, ", ".join(parts) + (": saturated" if flagged else ""))


def _ttft_gap(level: LevelResult, server: ServerView, lim: ValiditySpec) -> Check:
    ours = server.ttft_avg_s
    if ours is None or not level.measured:
        return _check("TTFT gap", None, "no server-side TTFT")
    counted = server.ttft_requests
    if server.window_exact is False:
        # Two means over different requests are no measure of the client's share.
        return _check(
            "TTFT gap",
            None,
            f"the server's window holds {counted} TTFTs and {server.e2e_requests} "
            f"latencies, the client measured {level.succeeded} requests: not the same requests",
        )
    gap = level.ttft_avg_s - ours
    detail = (
        f"client {SCALE * level.ttft_avg_s:.1f} {MS} − server {SCALE * ours:.1f} {MS} "
        f"= {SCALE * gap:+.1f} {MS}"
    )
    if counted is not None and counted != level.succeeded:
        detail += f" (the server's window holds {counted} of the {level.succeeded} requests)"
    flagged = gap > lim.max_ttft_gap_s and gap > lim.max_ttft_gap_ratio * ours
    if flagged:
        detail += (
            f" (more than {SCALE * lim.max_ttft_gap_s:g} {MS} and "
            f"{_pct(lim.max_ttft_gap_ratio)} of the server's)"
        )
    return _check("TTFT gap", flagged, detail)


def _accelerator(level: LevelResult, lim: ValiditySpec) -> Check:
    """A level whose accelerators were mostly idle measured something else: the client,
    the network, the server's front end, or devices other than those sampled."""
    tel = level.telemetry
    if tel.util_mean_pct is None:
        return _check("accelerator", None, "no accelerator telemetry")
    peak = f", peak {tel.util_max_pct:.0f} %" if tel.util_max_pct is not None else ""
    detail = (
        f"utilisation {tel.util_mean_pct:.1f} % mean{peak} ({tel.source}, {tel.samples} samples)"
    )
    idle = tel.util_mean_pct < 100 * lim.min_accelerator_util
    if idle:
        detail += (
            f" — mostly idle, below {_pct(lim.min_accelerator_util)} "
            "(validity.min_accelerator_util): the accelerator did not do this level's work"
        )
    return _check("accelerator", idle, detail)


def judge_level(
    level: LevelResult,
    server: ServerView,
    client: ClientView,
    limits: ValiditySpec,
    prefix_length: int = 0,
    paced: bool = False,
    trace: bool = False,
) -> list[Check]:
    """Every check of one level, in a fixed order. `prefix_length` is the load's shared
    prefix (evalscope --prefix-length); `paced`: the load sets a rate, so requests start
    on a schedule, not when a slot frees; `trace`: that schedule is a trace's, so there is
    no concurrency to hold."""
    warmup_tokens = level.diagnostics.warmup_tokens  # a cheap warm-up's, else None
    if not level.measured:
        return [_check("measured", True, level.reason or "nothing measured")]
    return [
        *_complete(level),
        _output_length(level),
        _success(level, server, limits),
        _concurrency(level, server, client, limits)
        if not trace
        else _check("concurrency", None, "requests start on the trace's schedule"),
        *_caches(level, server, limits, prefix_length),
        *_server_saw(level),
        _client(level, server, client, limits, paced),
        _ttft_gap(level, server, limits),
        _accelerator(level, limits),
        *clienterror.check(level, client, limits),
        # Only a slot-driven level sends its first measured requests as warm-ups end.
        *([warmup.check(level, warmup_tokens)] if warmup_tokens and not paced else []),
    ]


def judge(
    level: LevelResult, scenario: Scenario, limits: ValiditySpec | None = None
) -> list[Check]:
    """The level's checks under its scenario: the one call that measuring
    (bench/measure/level.py), calibrating (measure/calibrate.py) and re-judging
    (measure/rejudge.py) make, from the views the level carries. `limits`: other
    thresholds than the scenario's `validity:` (a re-judged run's)."""
    return judge_level(
        level,
        level.server,
        level.client,
        scenario.validity if limits is None else limits,
        prefix_length=scenario.load.prefix_length,
        paced=scenario.rate_at(level.index) is not None or scenario.replays_trace,
        trace=scenario.replays_trace,
    )


@dataclass(frozen=True)
class Trust:
    """How many of a run's judged levels are trusted (measured, no check flagged), and the
    flagged ones by check: check name → the flagged levels, in the run's order."""

    judged: int
    trusted: int
    flagged: dict[str, list[LevelResult]]

    @property
    def untrusted(self) -> int:
        return self.judged - self.trusted


def trust(levels: list[LevelResult]) -> Trust | None:
    """The run's levels judged as a whole; None when no level carries checks (a published
    table, a run made before levels were checked)."""
    judged = [lv for lv in levels if lv.checks]
    if not judged:
        return None
    flagged: dict[str, list[LevelResult]] = {}
    trusted = 0
    for level in judged:
        names = [c.name for c in level.checks if c.status == CheckStatus.FLAG]
        trusted += not names
        for name in names:
            flagged.setdefault(name, []).append(level)
    return Trust(len(judged), trusted, flagged)
