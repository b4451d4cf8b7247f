"""`vlm-bench db index`, `db prune` and `vlm-bench export`: the results store (bench/store);
each command's arguments beside its handler."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.errors import UserError
from bench.safepath import writing
from bench.store import formats
from bench.store.db import open_store, store_target
from bench.store.export import export_table
from bench.store.index import index_paths
from bench.store.prune import PruneRule, parse_before, prune

DEFAULT_PATHS = (Path("reports"), Path("baselines"))
STDOUT = "-"
_DB_HELP = (
    "the store: a SQLite file path or postgresql://USER@HOST/DB "
    "(default: $VLM_BENCH_DB, else reports/vlm-bench.db)"
)


def add_db(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`vlm-bench db` and its actions, `index` and `prune`."""
    db = sub.add_parser(
        "db",
        help="the results store: an index of run folders (SQLite or PostgreSQL)",
        description="The results store indexes run folders (run.json) into a database for "
        "queries, dashboards and `export`; the runs stay the source of truth (docs/store.md).",
    )
    db_sub = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add_index(db_sub)
    _add_prune(db_sub)


def _add_index(db_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    idx = db_sub.add_parser(
        "index",
        help="index the runs under PATHs (new or changed runs only)",
        description="Find every run.json under the PATHs and index each run into the store: "
        "unchanged runs (same content digest) are skipped, changed ones replaced, bad ones "
        "named on stderr and skipped. Exit 0, or 2 for a bad PATH or --db.",
    )
    idx.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="run folders, run.json files or folders of runs (default: reports, and "
        "baselines when it exists)",
    )
    idx.add_argument("--db", metavar="URL", help=_DB_HELP)
    idx.add_argument(
        "--json",
        action="store_true",
        help="print only a JSON summary on stdout ({store, indexed, unchanged, skipped})",
    )
    idx.set_defaults(func=cmd_db_index)


def cmd_db_index(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    if not paths:  # reports/ (and baselines/ when there are any)
        paths = [DEFAULT_PATHS[0]] + [p for p in DEFAULT_PATHS[1:] if p.is_dir()]
    with open_store(args.db) as store:
        summary = index_paths(store, paths)
        for line in summary.skipped:
            print(f"vlm-bench: skipped: {line}", file=sys.stderr)
        if args.json:
            print(json.dumps(summary.to_dict(store), indent=2))
        else:
            print(summary.line(store))
    return 0


def _add_prune(db_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prune = db_sub.add_parser(
        "prune",
        help="drop old runs from the store (the run folders stay)",
        description="Drop runs from the store: all but the newest N of each scenario "
        "(--keep N; runs without a start time count as the oldest), or those that started "
        "before DATE (--before). Only the store's rows go; run folders are never touched, "
        "and `db index` of a folder that still holds a pruned run adds it again. Exit 0, "
        "or 2 for a bad --keep, --before or --db.",
    )
    rule = prune.add_mutually_exclusive_group(required=True)
    rule.add_argument("--keep", type=int, metavar="N", help="keep the newest N runs per scenario")
    rule.add_argument(
        "--before",
        metavar="DATE",
        help="drop runs that started before DATE (YYYY-MM-DD, UTC; or an ISO 8601 time)",
    )
    prune.add_argument("--db", metavar="URL", help=_DB_HELP)
    prune.add_argument(
        "--dry-run", action="store_true", help="say what would be dropped; change nothing"
    )
    prune.add_argument(
        "--json",
        action="store_true",
        help="print only a JSON summary on stdout ({store, dry_run, pruned, kept})",
    )
    prune.set_defaults(func=cmd_db_prune)


def cmd_db_prune(args: argparse.Namespace) -> int:
    if args.keep is not None and args.keep < 1:
        raise UserError(f"--keep {args.keep}: must be 1 or more (the newest runs to keep)")
    before = parse_before(args.before) if args.before is not None else None
    with open_store(args.db, must_exist=True) as store:
        summary = prune(store, PruneRule(args.keep, before), dry_run=args.dry_run)
        if args.json:
            print(json.dumps(summary.to_dict(store, args.dry_run), indent=2))
        else:
            for run_dir in summary.pruned:
                print(f"{'would prune' if args.dry_run else 'pruned'}: {run_dir}", file=sys.stderr)
            print(summary.line(store, args.dry_run))
    return 0


def add_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    exp = sub.add_parser(
        "export",
        help="write the tidy frame of many runs, or their per-request records",
        description="Write every run under PATH (read directly, no database) or in the store "
        "(--db; default: $VLM_BENCH_DB, else reports/vlm-bench.db) as one table: --what levels "
        "(the default), one row per run x level x repeat x metric; --what requests, one row "
        "per measured request (columns in docs/store.md).",
    )
    exp.add_argument("path", nargs="?", metavar="PATH", help="run folder or folder of runs")
    exp.add_argument("--db", metavar="URL", help=_DB_HELP)
    exp.add_argument(
        "--what",
        choices=("levels", "requests"),
        default="levels",
        help="levels (the tidy frame, default) or requests (one row per request)",
    )
    exp.add_argument(
        "--format",
        help=f"{', '.join(formats.names())} (default: from --out's extension)",
    )
    exp.add_argument("--out", metavar="FILE", required=True, help="the file to write; - for stdout")
    exp.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    if args.path and args.db:
        raise UserError("export: give PATH (run folders) or --db URL (a store), not both")
    if args.path and not Path(args.path).exists():
        raise UserError(f"{args.path}: no such file or folder")
    fmt = _format(args.format, args.out)
    data = fmt.write(export_table(args.path or store_target(args.db), args.what))
    if args.out == STDOUT:
        sys.stdout.buffer.write(data)  # a reader that leaves early: bench.cli.main
        sys.stdout.buffer.flush()
        return 0
    out = Path(args.out)
    with writing(out):
        out.write_bytes(data)
    print(out)
    return 0


def _format(name: str | None, out: str) -> formats.Format:
    """--format, else the one --out's extension names."""
    if name:
        return formats.get(name)
    if out == STDOUT:
        raise UserError(f"--out -: give --format ({', '.join(formats.names())})")
    return formats.for_path(out)
