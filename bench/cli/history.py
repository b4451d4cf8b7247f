"""`vlm-bench history`: one metric's value run by run, and where it changed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.analyze.history import series
from bench.errors import UserError
from bench.report import history as render
from bench.safepath import writing
from bench.store.db import store_target
from bench.store.frame import load_runs

PLOT_FORMATS = (".png", ".svg", ".pdf")


def cmd_history(args: argparse.Namespace) -> int:
    if args.plot and Path(args.plot).suffix.lower() not in PLOT_FORMATS:
        raise UserError(f"--plot {args.plot}: the file must end in {', '.join(PLOT_FORMATS)}")
    if args.runs and not Path(args.runs).is_dir():
        raise UserError(f"--runs {args.runs}: no such folder")
    source = args.runs or store_target(args.db)  # --db DIR: an error, not run folders
    frame = load_runs(source)
    if frame.empty:
        raise UserError(f"history: no runs in {args.runs or 'the store'}")
    table = series(
        frame, scenario=args.scenario, metric=args.metric, parallel=args.conc, by=args.by
    )
    scenario = args.scenario or str(frame["scenario_name"].iloc[0])
    if args.json:
        doc = render.to_dict(table, args.metric, args.conc, scenario)
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        title = f"{scenario}: {args.metric} at concurrency {args.conc}, by {args.by}"
        print(render.text(table, args.metric, args.conc, title))
    if args.plot:
        caption = f"{scenario}, {len(table)} runs by {args.by}; dashed: change points"
        fig = render.figure(table, args.metric, args.conc, caption)
        out = Path(args.plot)
        with writing(out, "--plot"):
            fig.savefig(out, dpi=110)
    return 0
