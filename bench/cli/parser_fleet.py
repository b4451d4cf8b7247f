"""argparse declarations of `vlm-bench fleet` and of `run --cluster` (bench/cli/parser.py
is near its size limit)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def add_fleet(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
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
    fleet.set_defaults(func=func)


def add_cluster(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="place the load workers as Ray actors on this cluster's client nodes "
        "(auto, HOST:PORT or ray://HOST:PORT); same as --set cluster.engine=ray "
        "--set cluster.address=ADDRESS",
    )
