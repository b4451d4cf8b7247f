"""`vlm-bench db index`, `db prune` and `vlm-bench export`: the results store (bench/store)."""

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
