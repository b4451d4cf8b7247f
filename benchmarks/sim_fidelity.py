"""Measurement fidelity against the simulator: profile, server truth, client view.

    python benchmarks/sim_fidelity.py [--profile fast] [--levels 1 8 32] [--tokens 128]

Runs `vlm-bench run` (real evalscope, real HTTP) against a jitter-free simulator profile
and prints, per level:

- intended: what the profile's timing model decided for these very requests (their
  arrival, queueing and batching): the engine's model times in the trace;
- simulator: what the trace says the server actually did (TTFT = first token written -
  arrival, TPOT = (last - first token written) / (tokens - 1)), and its error against
  the intended figures: the simulator's own error, target within 1 %;
- evalscope: what the client reported, and its difference from the server;
- receipt delay: the client's request start to the server's arrival stamp (both on the
  same monotonic clock), average and maximum.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from bench.load.generator import level_rows
from bench.measure import sweep as runner
from bench.schema.scenario import Scenario


def rel(a: float, b: float) -> str:
    return f"{(a / b - 1):+.2%}" if b else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="fast")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--per-level", type=int, default=4, help="requests = this x parallel")
    parser.add_argument("--keep", help="keep the run under this folder")
    args = parser.parse_args()
    scenario = Scenario.model_validate(
        {
            "name": "fidelity",
            "model": {"served_name": "sim-model", "tokenizer_path": "generated"},
            "server": {
                "kind": "sim",
                "profile": args.profile,
                "time_scale": args.time_scale,
                "args": ["--jitter", "0"],
            },
            "load": {
                "min_tokens": args.tokens,
                "max_tokens": args.tokens,
                "request_timeout_s": 300,
            },
            "sweep": {"parallel": args.levels, "requests_per_level": f"{args.per_level}x"},
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        outcome = runner.run(scenario, Path(args.keep or tmp), Console(stderr=True))
        run_dir = outcome.run_dir
        trace = [json.loads(x) for x in (run_dir / "sim-trace.jsonl").read_text().splitlines()]
        rows = []
        for level in outcome.run.levels:
            records = [r for r in level_rows(run_dir, level) if r.success]
            lo = min(r.start_time for r in records) - 1
            hi = max(r.completed_time for r in records) + 1
            by_sha = {t["request_sha"]: t for t in trace if lo <= t["arrival"] <= hi}
            pairs = [(r, by_sha[r.request_sha]) for r in records]
            n = args.tokens - 1
            srv_ttft = [t["first_token"] - t["arrival"] for _, t in pairs]
            mod_ttft = [t["first_token_model"] - t["arrival"] for _, t in pairs]
            srv_tpot = [(t["last_token"] - t["first_token"]) / n for _, t in pairs]
            mod_tpot = [(t["last_token_model"] - t["first_token_model"]) / n for _, t in pairs]
            receipt = [t["arrival"] - r.start_time for r, t in pairs]
            rows.append((level, srv_ttft, mod_ttft, srv_tpot, mod_tpot, receipt))
    ms = 1000.0
    print(
        f"profile {args.profile}, time scale {args.time_scale}, {args.tokens} tokens, "
        f"{args.per_level} x parallel requests + one warm-up wave per level\n"
    )
    print(
        "| conc | intended TTFT / TPOT (ms) | simulator TTFT / TPOT (ms) | simulator error "
        "| evalscope TTFT / TPOT (ms) | evalscope - simulator | receipt delay avg / max (ms) |"
    )
    print("|---|---|---|---|---|---|---|")
    for level, srv_ttft, mod_ttft, srv_tpot, mod_tpot, receipt in rows:
        s_ttft, m_ttft = statistics.mean(srv_ttft), statistics.mean(mod_ttft)
        s_tpot, m_tpot = statistics.mean(srv_tpot), statistics.mean(mod_tpot)
        print(
            f"| {level.parallel} | {m_ttft * ms:.2f} / {m_tpot * ms:.3f} | "
            f"{s_ttft * ms:.2f} / {s_tpot * ms:.3f} | "
            f"TTFT {rel(s_ttft, m_ttft)}, TPOT {rel(s_tpot, m_tpot)} | "
            f"{level.ttft_avg_s * ms:.2f} / {level.tpot_avg_s * ms:.3f} | "
            f"TTFT {(level.ttft_avg_s - s_ttft) * ms:+.1f} ms, "
            f"TPOT {rel(level.tpot_avg_s, s_tpot)} | "
            f"{statistics.mean(receipt) * ms:.1f} / {max(receipt) * ms:.1f} |"
        )


if __name__ == "__main__":
    main()
