"""argparse declaration of `vlm-bench capacity`, beside bench/cli/parser.py (at its size
limit) and called from it. No command logic: `func` comes from the table `bench.cli`
passes in."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _whole(text: str) -> int:
    value = _positive(text)
    if value != int(value):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(value)


def add_capacity_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    commands: Mapping[str, Callable[[argparse.Namespace], int]],
    helpers: tuple[Callable[..., None], Callable[..., None], Callable[..., None]],
) -> None:
    """`vlm-bench capacity`, bound to `commands["capacity"]`; `helpers` are parser.py's
    --out, --set and --json declarations (the flags `run` has)."""
    add_out, add_set, add_json = helpers
    cap = sub.add_parser(
        "capacity",
        help="the highest concurrency (or rate) meeting the SLO, in one run",
        description="Search the highest concurrency (with --rate: arrival rate) whose P99 "
        "TTFT and P99 TPOT meet the scenario's slo: an exponential probe, then bisection, "
        "each probe a measured level with confidence intervals (docs/capacity.md). Writes "
        "a run folder like `run`. Exit 0, 1 if a level failed, 2 for bad input (no SLO).",
    )
    cap.add_argument("scenario", help="scenario YAML file (its slo: is the target)")
    add_out(cap, "write the run folder under DIR instead of the scenario's output_dir")
    add_set(cap, "override a scenario field", "slo.tpot_p99_s=0.06")
    add_json(cap, "{run_dir, by, capacity, bounded, probes}")
    cap.add_argument("--rate", action="store_true", help="search the arrival rate (req/s)")
    cap.add_argument(
        "--step", type=_positive, help="with --rate: the rate's resolution (default 0.5 req/s)"
    )
    cap.add_argument(
        "--start", type=_positive, help="first probe (default: the sweep's middle level)"
    )
    cap.add_argument(
        "--max", type=_whole, help="largest probe, in concurrency or rate steps (default 1024)"
    )
    cap.add_argument("--skip-check", action="store_true", help="no answer check first")
    cap.set_defaults(func=commands["capacity"])
