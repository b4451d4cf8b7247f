"""`vlm-bench history`: one metric's value run by run, and where it changed; its arguments
beside its handler."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.analyze.history import NEWEST, NO_WORKLOAD, series, workloads
from bench.errors import UserError
from bench.report import history as render
from bench.safepath import writing
from bench.store.db import store_target
from bench.store.frame import load_runs

PLOT_FORMATS = (".png", ".svg", ".pdf")


def _concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a concurrency >= 1, got {text!r}")
    return value


def add_history(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hist = sub.add_parser(
        "history",
        help="one metric run by run (by date, commit or server version) and its change points",
        description="Print one metric at one concurrency for every run of a scenario, in the "
        "order the runs started (median over repeats), with the change points found in it "
        "(e-divisive means, permutation test, the gate's noise floor; docs/history.md). "
        "Exit 0, or 2 for bad input (unknown metric, no data).",
    )
    hist.add_argument(
        "scenario", nargs="?", help="scenario name (optional when the runs hold one scenario)"
    )
    hist.add_argument("--metric", default="tpot_avg_s", help="metric key (default tpot_avg_s)")
    hist.add_argument(
        "--conc", type=_concurrency, required=True, help="the concurrency level (parallel)"
    )
    hist.add_argument(
        "--by", choices=("date", "commit", "version"), default="date", help="label runs by"
    )
    hist.add_argument(
        "--workload",
        metavar="FINGERPRINT",
        default=NEWEST,
        help=f"the runs of this workload (wl-…), or {NO_WORKLOAD!r}: those without a "
        "workload section (default: the newest run's; a series never mixes workloads)",
    )
    source = hist.add_mutually_exclusive_group()
    source.add_argument(
        "--db",
        metavar="URL",
        help="the store (default: $VLM_BENCH_DB, else reports/vlm-bench.db)",
    )
    source.add_argument("--runs", metavar="DIR", help="read run folders under DIR instead")
    hist.add_argument("--plot", metavar="FILE", help="also draw the series (.png, .svg, .pdf)")
    hist.add_argument("--json", action="store_true", help="print the series and changes as JSON")
    hist.set_defaults(func=cmd_history)


def cmd_history(args: argparse.Namespace) -> int:
    if args.plot and Path(args.plot).suffix.lower() not in PLOT_FORMATS:
        raise UserError(f"--plot {args.plot}: the file must end in {', '.join(PLOT_FORMATS)}")
    if args.runs and not Path(args.runs).is_dir():
        raise UserError(f"--runs {args.runs}: no such folder")
    source = args.runs or store_target(args.db)  # --db DIR: an error, not run folders
    frame = load_runs(source)
    if frame.empty:
        raise UserError(f"history: no runs in {args.runs or 'the store'}")
    kept = workloads(
        frame,
        scenario=args.scenario,
        metric=args.metric,
        parallel=args.conc,
        workload=args.workload,
    )
    table = series(
        frame,
        scenario=args.scenario,
        metric=args.metric,
        parallel=args.conc,
        by=args.by,
        workload=args.workload,
    )
    scenario = args.scenario or str(frame["scenario_name"].iloc[0])
    sent = f", workload {kept.shown}" if kept.shown else ""
    if args.json:
        doc = render.to_dict(table, args.metric, args.conc, scenario, kept)
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        title = f"{scenario}: {args.metric} at concurrency {args.conc}, by {args.by}{sent}"
        print(render.text(table, args.metric, args.conc, title, kept))
    if args.plot:
        caption = f"{scenario}{sent}, {len(table)} runs by {args.by}; dashed: change points"
        fig = render.figure(table, args.metric, args.conc, caption)
        out = Path(args.plot)
        with writing(out, "--plot"):
            fig.savefig(out, dpi=110)
    return 0
