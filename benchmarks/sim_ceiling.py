"""The simulator's own ceiling: the highest token rate it emits on time, on one core.

    python benchmarks/sim_ceiling.py [--streams 32] [--tokens 400]

For decreasing step times (so increasing aggregate rate = streams / step), the simulator
(pinned to CPU 0) serves `streams` concurrent ignore_eos streams from a minimal aiohttp
client (a separate process pinned to CPU 1, which reads bytes and parses nothing). The
trace gives what the simulator actually wrote: emitted TPOT = (last - first token) /
(tokens - 1) per request, and tokens per socket write. The ceiling is the highest rate
whose mean emitted TPOT is within 2 % of the profile's step time; the strict ceiling also
asks that tokens leave one per write (at most 1.05 per write on average: beyond it the
average rate holds but tokens arrive in bursts, so inter-token latencies are no longer
the profile's). Prints one row per step time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sim.process import SimProcess  # noqa: E402

STEP_MS = [10.0, 4.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05]
DRIFT_LIMIT = 0.02
BURST_LIMIT = 1.05


async def _client(url: str, streams: int, tokens: int) -> None:
    import aiohttp

    body = {
        "model": "sim-model",
        "max_tokens": tokens,
        "ignore_eos": True,
        "stream": True,
        "messages": [{"role": "user", "content": "count"}],
    }

    async def one(session: aiohttp.ClientSession) -> None:
        async with session.post(url, json=body) as resp:
            async for _ in resp.content.iter_any():
                pass

    connector = aiohttp.TCPConnector(limit=streams)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session) for _ in range(streams)))


def measure(step_s: float, streams: int, tokens: int) -> tuple[float, float, float, float]:
    """(mean and p99 emitted TPOT, simulator CPU per wall second, tokens per write)."""
    with tempfile.TemporaryDirectory() as tmp:
        fields = [
            f"decode_base_s={step_s}",
            "decode_per_seq_s=0",
            "prefill_per_token_s=0",
            "per_image_s=0",
            "jitter=0",
            "max_model_len=65536",
        ]
        args = ["--profile", "fast", *(a for f in fields for a in ("--set", f))]
        with SimProcess(Path(tmp), args, cpu=0) as sim:
            client = [
                sys.executable,
                __file__,
                "--client",
                sim.url("/v1/chat/completions"),
                "--streams",
                str(streams),
                "--tokens",
                str(tokens),
            ]
            cpu0 = sim.cpu_seconds()
            t0 = time.monotonic()
            proc = subprocess.Popen(client)
            os.sched_setaffinity(proc.pid, {1 % os.cpu_count()})  # type: ignore[operator]
            proc.wait()
            wall = time.monotonic() - t0
            busy = (sim.cpu_seconds() - cpu0) / wall
            lines = [json.loads(x) for x in sim.trace.read_text().splitlines()]
    done = [r for r in lines if r["outcome"] == "length"]
    tpots = sorted((r["last_token"] - r["first_token"]) / (r["output_tokens"] - 1) for r in done)
    burst = sum(r["output_tokens"] for r in done) / sum(r["writes"] for r in done)
    return statistics.mean(tpots), tpots[int(0.99 * (len(tpots) - 1))], busy, burst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(_client(args.client, args.streams, args.tokens))
        return
    print(
        f"{args.streams} streams, >= {args.tokens} tokens each; simulator on CPU 0, client on CPU 1"
    )
    print(
        "| step (ms) | profile tok/s | emitted TPOT mean (ms) | drift | p99 (ms) | sim CPU "
        "| tokens per write |"
    )
    print("|---|---|---|---|---|---|---|")
    ceiling = strict = 0.0
    misses = 0
    for step_ms in STEP_MS:
        # At least ~2 s of streaming per point, so start-up does not dominate.
        tokens = max(args.tokens, int(2.0 / (step_ms / 1000)))
        mean, p99, busy, burst = measure(step_ms / 1000, args.streams, tokens)
        drift = mean / (step_ms / 1000) - 1
        rate = args.streams / (step_ms / 1000)
        ok = abs(drift) <= DRIFT_LIMIT
        if ok:
            ceiling = max(ceiling, rate)
            if burst <= BURST_LIMIT:
                strict = max(strict, rate)
        misses = 0 if ok else misses + 1
        print(
            f"| {step_ms:g} | {rate:,.0f} | {mean * 1000:.3f} | {drift:+.2%} | "
            f"{p99 * 1000:.3f} | {busy:.0%} | {burst:.2f} |{'' if ok else ' drifted'}"
        )
        if misses == 2:
            break
    print(
        f"\nceiling: {ceiling:,.0f} tokens/s with emitted TPOT within {DRIFT_LIMIT:.0%} of "
        f"the profile; strict ceiling (also one token per write): {strict:,.0f} tokens/s"
    )


if __name__ == "__main__":
    main()
