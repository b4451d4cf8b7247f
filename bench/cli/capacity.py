"""`vlm-bench capacity`: the highest concurrency (or rate) meeting the SLO, in one run."""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

from bench.cli.inputs import _human_output, _scenario
from bench.errors import EXIT_RUN_FAILED
from bench.measure import capacity
from bench.report import console
from bench.report.capacity import capacity_json, capacity_line, probe_table


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
