"""`vlm-bench fleet PLAN.yaml`: many sweeps on many hosts (bench/measure/fleet.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.config.fleet import load_plan
from bench.errors import EXIT_RUN_FAILED
from bench.measure.fleet import run_fleet


def cmd_fleet(args: argparse.Namespace) -> int:
    path = Path(args.plan)
    plan, tasks = load_plan(path)
    if args.address:
        plan.address = args.address
    results = run_fleet(plan, tasks, path.parent)
    failed = [r for r in results if not r.ok]
    print(f"fleet: {len(results) - len(failed)} of {len(results)} sweeps ok")
    return EXIT_RUN_FAILED if failed else 0
