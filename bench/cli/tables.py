"""`vlm-bench import-table`, `compare` and `release-table`: tables from stored runs; each
command's arguments beside its handler."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.cli.options import add_json, finite_float
from bench.config.published import import_table
from bench.config.scenario import load_scenario
from bench.errors import UserError
from bench.report import compare, release, summary
from bench.report.markdown import render_report
from bench.safepath import safe_name, writing
from bench.schema.runfile import read_run
from bench.schema.runwrite import write_run
from bench.store.auto import index_finished_run


def add_import_table(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    imp = sub.add_parser(
        "import-table",
        help="turn a published table in the reference format into a run",
        description="Read a markdown table with the reference's columns (| Conc. | RPS | … | "
        "Success Rate |) and write it as a run marked published (no raw data, no repeats), "
        "with the load and sweep of the scenario that produced it, so that measured runs "
        "can be compared with it.",
    )
    imp.add_argument("file", help="markdown file holding the table")
    imp.add_argument("--name", required=True, help="the run's name (its folder and label)")
    imp.add_argument("--scenario", required=True, help="the scenario the table was measured with")
    imp.add_argument("--table", help="which table (its heading's first word), if several")
    imp.add_argument("--hardware", help="instead of the scenario's hardware")
    imp.add_argument("--backend", help="instead of the scenario's backend")
    imp.add_argument("--out", metavar="DIR", help="run folder (default: <output_dir>/<name>)")
    imp.set_defaults(func=cmd_import_table)


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


def add_compare(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmp_ = sub.add_parser(
        "compare",
        help="runs side by side per concurrency, with %% change against the first",
        description="One table per metric family, each run's value and its change "
        "against the first run per concurrency level, and a headline. Runs whose workloads "
        "(image size, tokens, dataset, …) or concurrency levels differ are refused unless "
        "--force.",
    )
    cmp_.add_argument("runs", nargs="+", metavar="RUN", help="run folders (or run.json files)")
    cmp_.add_argument("--force", action="store_true", help="compare different workloads anyway")
    cmp_.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="compare runs whose recorded hardware or software versions differ",
    )
    cmp_.add_argument(
        "--out", metavar="DIR", help="also write compare.md and overlay plots into this folder"
    )
    add_json(cmp_, "{runs, levels, headline, changes}")
    cmp_.set_defaults(func=cmd_compare)


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


def add_release_table(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rel = sub.add_parser(
        "release-table",
        help="one table across runs, with each run's capacity (max RPS, knee, SLO)",
    )
    rel.add_argument("runs", nargs="+", metavar="RUN", help="run folders (or run.json files)")
    rel.add_argument(
        "--by", default="hardware,backend,version", help="leading columns (default: %(default)s)"
    )
    rel.add_argument(
        "--knee", type=finite_float, default=1.1, help="P99 TPOT factor of the knee (default 1.1)"
    )
    rel.add_argument(
        "--out", metavar="DIR", help="also write release.md and release.csv into this folder"
    )
    add_json(rel, "{by, knee_factor, rows, capacity, notes}")
    rel.set_defaults(func=cmd_release_table)


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
