"""Calibrate a simulator profile against a published seed table, in simulated time.

    python benchmarks/calibrate.py ascend-800ta2-vllm          # side-by-side table
    python benchmarks/calibrate.py xllm-800ta2 --fit decode_base_s,decode_per_seq_s

The seed sweep (parallel 1..32, 4 x parallel requests, one 640x640 image, ~631 prompt
tokens, 512 output tokens) runs through the timing model with a closed-loop client, so a
whole sweep takes about a second. `--fit` minimises the worst tolerance-normalised cell
error (plus a small mean term) with Nelder-Mead from the profile's current values and
prints the fitted parameters; copy them into the YAML by hand, with your reading of them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.published import PROFILE_TABLES, TOLERANCE, load_seed_reference, relative_error
from bench.sim.engine import Engine
from bench.sim.profile import Profile, load_profile
from bench.sim.virtual import run_closed_loop

SEED_SWEEP = [(1, 4), (2, 8), (4, 16), (8, 32), (16, 64), (32, 128)]
PROMPT_TOKENS = 631  # evalscope random_vl, 100-token prompt + one 640x640 image (measured)
SHOWN = [
    "rps",
    "latency_avg_s",
    "latency_p99_s",
    "output_tok_s",
    "ttft_avg_s",
    "ttft_p99_s",
    "tpot_avg_s",
    "tpot_p99_s",
]


def sweep(profile: Profile, seed: int = 0) -> dict[int, dict[str, float]]:
    engine = Engine(profile, seed)
    return {
        p: run_closed_loop(profile, engine, p, n, PROMPT_TOKENS, 1, 512).summary()
        for p, n in SEED_SWEEP
    }


def errors(got: dict[int, dict[str, float]], table: dict[int, dict[str, float]]) -> list[float]:
    return [
        abs(relative_error(k, got[c][k], table[c][k])) / tol
        for c in got
        for k, tol in TOLERANCE.items()
    ]


def show(got: dict[int, dict[str, float]], table: dict[int, dict[str, float]]) -> None:
    print("| Conc. | " + " | ".join(SHOWN) + " |")
    print("|---" * (len(SHOWN) + 1) + "|")
    for c, row in got.items():
        cells = []
        for k in SHOWN:
            err = relative_error(k, row[k], table[c][k])
            cells.append(f"{row[k]:.4g} / {table[c][k]:g} ({err:+.0%})")
        print(f"| {c} | " + " | ".join(cells) + " |")
    worst = max(errors(got, table))
    print(
        f"\nworst cell at {worst:.0%} of its tolerance "
        "(simulated / published (error beyond the published rounding))"
    )


def fit(base: dict[str, Any], names: list[str], table: dict[int, dict[str, float]]) -> None:
    from scipy.optimize import minimize

    x0 = [float(base[n]) or 1e-4 for n in names]

    def objective(x: list[float]) -> float:
        trial = dict(base, **{n: max(0.0, v * s) for n, v, s in zip(names, x, x0, strict=True)})
        try:
            errs = errors(sweep(Profile.model_validate(trial)), table)
        except ValueError:
            return 1e9
        return max(errs) + 0.2 * sum(errs) / len(errs)

    result = minimize(
        objective,
        [1.0] * len(names),
        method="Nelder-Mead",
        options={"maxfev": 400, "xatol": 1e-3, "fatol": 1e-4},
    )
    print(f"objective {result.fun:.3f}")
    for n, v, s in zip(names, result.x, x0, strict=True):
        print(f"{n}: {max(0.0, v * s):.6g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=sorted(PROFILE_TABLES))
    parser.add_argument("--seed", type=int, default=0, help="jitter seed")
    parser.add_argument("--fit", help="comma-separated profile fields to fit")
    args = parser.parse_args()
    profile = load_profile(args.profile)
    table = load_seed_reference()[PROFILE_TABLES[args.profile]]
    if args.fit:
        fit(profile.model_dump(), args.fit.split(","), table)
    else:
        show(sweep(profile, args.seed), table)


if __name__ == "__main__":
    main()
