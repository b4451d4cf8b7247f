"""`vlm-bench capacity`: the highest concurrency (or rate) meeting the SLO, in one run; its
arguments beside its handler."""

from __future__ import annotations

import argparse
import json
import math
import signal
from pathlib import Path

from bench.cli.inputs import _human_output, _scenario
from bench.cli.options import add_json, add_out, add_set
from bench.errors import EXIT_RUN_FAILED
from bench.measure import capacity
from bench.report import console
from bench.report.capacity import capacity_json, capacity_line, probe_table


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


def add_capacity(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`vlm-bench capacity`: the flags `run` has (--out, --set, --json) and the search's."""
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
    cap.set_defaults(func=cmd_capacity)


def cmd_capacity(args: argparse.Namespace) -> int:
    scenario, search = capacity.prepare(_scenario(args), args.rate, args.step, args.start, args.max)
    output_dir = Path(args.out) if args.out else None
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with _human_output(args.json):
        outcome = capacity.run(scenario, search, output_dir, skip_check=args.skip_check)
        print(console.run_tables(outcome.run))
        print(f"\nProbes ({len(search.probes)} levels measured):")
        print(probe_table(search.by, list(search.probes)))
        print(capacity_line(search.by, search.capacity, search.bounded, search.step, search.top))
        print(f"\nreport: {outcome.run_dir / 'report.md'}")
    if args.json:
        found = capacity_json(search.by, search.capacity, search.bounded, list(search.probes))
        print(json.dumps({"run_dir": str(outcome.run_dir), **found}, indent=2))
    return 0 if outcome.run.ok else EXIT_RUN_FAILED
