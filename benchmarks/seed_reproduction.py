"""The reference sweep through evalscope against a calibrated profile, beside the published table.

    python benchmarks/seed_reproduction.py ascend-800ta2-vllm --time-scale 0.25
    python benchmarks/seed_reproduction.py xllm-800ta2 --time-scale 0.25

Runs scenarios/vlm-r1-ovd-800ta2.yaml's load and sweep exactly (no warm-up, like the
reference) with the server replaced by the simulator, then rescales the measured figures to the
modelled hardware (seconds / time scale, rates x time scale) and prints them beside the
published table with each cell's error beyond the published rounding and the acceptance
tolerance (RPS, latency, Gen. toks/s, TPOT within 10 %, Avg TTFT within 25 %). The
client's own overhead is rescaled too: at time scale 0.25 a 10 ms client delay reads as
40 ms of TTFT.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from bench.config.published import (  # noqa: E402
    PROFILE_TABLES,
    TOLERANCE,
    load_reference_tables,
    relative_error,
)
from bench.config.scenario import load_scenario  # noqa: E402
from bench.measure import sweep as runner  # noqa: E402
from bench.report.markdown import rescale  # noqa: E402
from bench.schema.metrics import REFERENCE_COLUMNS  # noqa: E402

SHOWN = [k for k in REFERENCE_COLUMNS if k != "success_rate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", choices=sorted(PROFILE_TABLES))
    parser.add_argument("--time-scale", type=float, default=0.25)
    parser.add_argument("--output-dir", default=str(ROOT / "reports"))
    args = parser.parse_args()
    scenario = load_scenario(
        ROOT / "scenarios" / "vlm-r1-ovd-800ta2.yaml",
        {
            "name": f"reference-on-{args.profile}",
            "server": {
                "kind": "sim",
                "profile": args.profile,
                "time_scale": args.time_scale,
                "ready_timeout_s": 60,
            },
            "model.tokenizer_path": "generated",
        },
    )
    outcome = runner.run(scenario, Path(args.output_dir), Console(stderr=True))
    table = load_reference_tables()[PROFILE_TABLES[args.profile]]
    print(
        f"{outcome.run_dir}\nreference sweep on profile {args.profile}, time scale "
        f"{args.time_scale}; measured (rescaled) / published (error beyond rounding)\n"
    )
    print("| Conc. | " + " | ".join(SHOWN) + " |")
    print("|---" * (len(SHOWN) + 1) + "|")
    failures = []
    for level in outcome.run.levels:
        got = rescale(level, args.time_scale)
        pub = table[level.parallel]
        cells = []
        for key in SHOWN:
            err = relative_error(key, got.value(key), pub[key])
            tol = TOLERANCE.get(key)
            mark = "" if tol is None or abs(err) <= tol else " ✗"
            if mark:
                failures.append(f"conc {level.parallel} {key} {err:+.1%}")
            cells.append(f"{got.value(key):.4g} / {pub[key]:g} ({err:+.1%}){mark}")
        print(f"| {level.parallel} | " + " | ".join(cells) + " |")
    print("\nwithin tolerance" if not failures else "\noutside tolerance: " + ", ".join(failures))


if __name__ == "__main__":
    main()
