"""`vlm-bench import-table`, `compare` and `release-table`: tables from stored runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.config.published import import_table
from bench.config.scenario import load_scenario
from bench.errors import UserError
from bench.report import compare, release, summary
from bench.report.markdown import render_report
from bench.safepath import safe_name, writing
from bench.schema.runfile import read_run
from bench.schema.runwrite import write_run
from bench.store.auto import index_finished_run


def cmd_import_table(args: argparse.Namespace) -> int:
    name = safe_name(args.name, "--name")
    scenario = load_scenario(args.scenario)
    run = import_table(Path(args.file), name, scenario, args.table, args.hardware, args.backend)
    out = Path(args.out) if args.out else Path(scenario.output_dir) / name
    with writing(out):
        out.mkdir(parents=True, exist_ok=True)
        write_run(run, out)
        # No plots: a published run is an input to compare; `vlm-bench report` draws them.
        (out / "report.md").write_text(render_report(run))
    index_finished_run(out, store_dir=out.resolve().parent)  # beside the run folders
    print(out)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    runs = [read_run(Path(p)) for p in args.runs]
    comparison = compare.compare(runs, force=args.force, allow_mismatch=args.allow_mismatch)
    plots: list[str] = []
    if args.out:
        out = Path(args.out)
        with writing(out):
            out.mkdir(parents=True, exist_ok=True)
            plots = compare.write_plots(comparison, out)
            (out / "compare.md").write_text(compare.render(comparison, plots))
    if args.json:
        print(json.dumps(summary.compare_summary(comparison), indent=2))
    else:
        print(compare.render(comparison, plots), end="")
    return 0


def cmd_release_table(args: argparse.Namespace) -> int:
    by = release.parse_by(args.by)
    if args.knee <= 1:
        raise UserError(f"--knee {args.knee}: must be greater than 1 (a factor on P99 TPOT)")
    runs = [read_run(Path(p)) for p in args.runs]
    text = release.render(runs, by, args.knee)
    if args.out:
        out = Path(args.out)
        with writing(out):
            out.mkdir(parents=True, exist_ok=True)
            (out / "release.md").write_text(text)
            (out / "release.csv").write_text(release.csv_text(runs, by))
    if args.json:
        print(json.dumps(release.json_summary(runs, by, args.knee), indent=2))
    else:
        print(text, end="")
    return 0
