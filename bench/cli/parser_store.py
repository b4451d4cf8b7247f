"""argparse declarations of the results-store commands (`db index`, `db prune`, `export`), kept
beside bench/cli/parser.py, which calls `add_store_commands` (that module is at its size
limit). No command logic: each `func` comes from the table `bench.cli` passes in.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping

from bench.store import formats

_DB_HELP = (
    "the store: a SQLite file path or postgresql://USER@HOST/DB "
    "(default: $VLM_BENCH_DB, else reports/vlm-bench.db)"
)


def add_store_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    commands: Mapping[str, Callable[[argparse.Namespace], int]],
) -> None:
    """`vlm-bench db index` and `vlm-bench export`, bound to `commands`."""
    db = sub.add_parser(
        "db",
        help="the results store: an index of run folders (SQLite or PostgreSQL)",
        description="The results store indexes run folders (run.json) into a database for "
        "queries, dashboards and `export`; the runs stay the source of truth (docs/store.md).",
    )
    db_sub = db.add_subparsers(dest="action", required=True, metavar="ACTION")
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
    idx.set_defaults(func=commands["db index"])
    _add_prune(db_sub, commands["db prune"])

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
    exp.set_defaults(func=commands["export"])


def add_keep_raw_db(run: argparse.ArgumentParser) -> None:
    """`vlm-bench run --keep-raw-db` (bench/measure/records.py)."""
    run.add_argument(
        "--keep-raw-db",
        action="store_true",
        help="keep evalscope's benchmark_data.db files (default: deleted once the level's "
        "records are in requests.parquet)",
    )


def _add_prune(
    db_sub: argparse._SubParsersAction[argparse.ArgumentParser],
    func: Callable[[argparse.Namespace], int],
) -> None:
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
    prune.set_defaults(func=func)
