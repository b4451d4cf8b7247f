"""`vlm-bench fleet PLAN.yaml`: many sweeps on many hosts (bench/measure/fleet.py); its
arguments beside its handler. (`run --cluster`, one sweep's workers on a cluster, is
declared with `run` in bench/cli/run.py.)"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.config.fleet import load_plan
from bench.errors import EXIT_RUN_FAILED
from bench.measure.fleet import run_fleet


def add_fleet(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fleet = sub.add_parser(
        "fleet",
        help="run many scenarios on many hosts of a Ray cluster (docs/fleet.md)",
        description="Run a fleet plan: each scenario's sweep as a Ray task on a node with the "
        "resources the plan asks for; run folders come back to the plan's output_dir. "
        "Finished tasks are skipped on a re-run (fleet-state.json). Exit 0: every sweep ok; "
        "1: a sweep failed (one line each); 2: bad plan.",
    )
    fleet.add_argument("plan", help="fleet plan YAML file")
    fleet.add_argument("--address", help="override the plan's Ray address")
    fleet.set_defaults(func=cmd_fleet)


def cmd_fleet(args: argparse.Namespace) -> int:
    path = Path(args.plan)
    plan, tasks = load_plan(path)
    if args.address:
        plan.address = args.address
    results = run_fleet(plan, tasks, path.parent)
    failed = [r for r in results if not r.ok]
    print(f"fleet: {len(results) - len(failed)} of {len(results)} sweeps ok")
    return EXIT_RUN_FAILED if failed else 0
