"""Writes bursty-200.jsonl beside this file: the 200-request trace that
scenarios/workload-trace.yaml replays (tests/unit/test_workload.py checks the shipped file
is exactly what this script writes).

Two phases, seeded: 100 requests with Poisson gaps at 8 requests/s, then 100 in bursts of
10 sent within 40 ms, one burst every 1.5 s. Each request names its prompt and output length
in tokens and one image by its size (320x240, 640x640 or 1024x768), which vlm-bench draws.

    python examples/traces/make_trace.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).with_name("bursty-200.jsonl")
SIZES = [(320, 240), (640, 640), (1024, 768)]


def lines(seed: int = 2026) -> list[str]:
    rng = random.Random(seed)
    t, stamps = 0.0, []
    for _ in range(100):  # Poisson arrivals at 8 requests/s
        t += rng.expovariate(8.0)
        stamps.append(t)
    for _ in range(10):  # bursts: 10 requests within 40 ms, every 1.5 s
        t += 1.5
        stamps.extend(t + rng.uniform(0.0, 0.04) for _ in range(10))
    out = []
    for stamp in sorted(stamps):
        width, height = rng.choice(SIZES)
        line = {
            "timestamp": round(stamp, 6),
            "prompt_tokens": rng.randint(50, 300),
            "output_tokens": rng.randint(16, 128),
            "images": [{"width": width, "height": height}],
        }
        out.append(json.dumps(line))
    return out


if __name__ == "__main__":
    OUT.write_text("\n".join(lines()) + "\n")
