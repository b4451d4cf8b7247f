"""One simulated request's ground truth: its trace record, and the vLLM metrics it feeds.

Times are `time.perf_counter()` seconds, the clock evalscope stamps its own records with,
so a trace line and the client's record of the same request compare directly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import IO

from bench.sim.engine import Sequence
from bench.sim.metrics import Metrics
from bench.sim.openai import ParsedRequest


@dataclass
class TraceRecord:
    rid: int
    request_sha: str
    arrival: float
    engine: float | None = None
    admitted: float | None = None
    first_token_model: float | None = None
    last_token_model: float | None = None
    first_token: float | None = None
    last_token: float | None = None
    prompt_tokens: int = 0
    image_tokens: int = 0  # videos' tokens included
    images: int = 0  # videos included (one item each)
    max_tokens: int = 0
    output_tokens: int = 0
    writes: int = 0  # socket writes that carried tokens: tokens / writes > 1 means bursts
    outcome: str = "pending"


def write_trace(trace: IO[str] | None, rec: TraceRecord) -> None:
    """One JSON line per request, when the simulator keeps a trace."""
    if trace is not None:
        trace.write(json.dumps(asdict(rec)) + "\n")


def settle(rec: TraceRecord, req: ParsedRequest, seq: Sequence, m: Metrics) -> None:
    """Close a request's record with the engine's times, and count it in the metrics the
    way vLLM does: token counters always, latency histograms only for finished ones."""
    rec.admitted = seq.admitted
    rec.first_token_model = seq.first_token
    rec.last_token_model = seq.finished
    if rec.outcome == "pending":
        rec.outcome = "aborted"
    m.add("vllm:prompt_tokens", req.prompt_tokens if seq.admitted is not None else 0)
    m.add("vllm:prefix_cache_queries", req.prompt_tokens if seq.admitted is not None else 0)
    m.add("vllm:generation_tokens", seq.output_tokens)
    if rec.outcome not in ("stop", "length"):
        m.finished["abort"] += 1
        return
    m.finished[rec.outcome] += 1
    assert rec.first_token is not None and rec.last_token is not None
    assert seq.admitted is not None and rec.engine is not None
    m.observe("vllm:time_to_first_token_seconds", rec.first_token - rec.arrival)
    m.observe("vllm:e2e_request_latency_seconds", rec.last_token - rec.arrival)
    m.observe("vllm:request_queue_time_seconds", seq.admitted - rec.engine)
    m.observe("vllm:request_prefill_time_seconds", rec.first_token - seq.admitted)
    m.observe("vllm:request_decode_time_seconds", rec.last_token - rec.first_token)
    m.observe("vllm:request_inference_time_seconds", rec.last_token - seq.admitted)
    if rec.output_tokens > 1:
        tpot = (rec.last_token - rec.first_token) / (rec.output_tokens - 1)
        m.observe("vllm:request_time_per_output_token_seconds", tpot)
