"""`vlm-bench dashboard`: the static site of many runs (bench/report/dashboard/); its
arguments beside its handler."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.errors import UserError
from bench.report.dashboard.site import build_site
from bench.store.db import DEFAULT_PATH, configured


def add_dashboard(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dash = sub.add_parser("dashboard", help="a static HTML site of many runs (docs/dashboard.md)")
    dash.add_argument("paths", nargs="*", metavar="PATH", help="run folders or folders of runs")
    dash.add_argument(
        "--db", metavar="URL", help="also a store's runs (no PATH: the default store, as db index)"
    )
    dash.add_argument("--out", metavar="DIR", required=True, help="the site's folder")
    dash.set_defaults(func=cmd_dashboard)


def default_store() -> str:
    """The store a dashboard given neither PATH nor --db shows: VLM_BENCH_DB, else
    reports/vlm-bench.db when it exists (every `vlm-bench run` indexes itself there)."""
    db = configured()
    if db is not None:
        return db
    if DEFAULT_PATH.is_file():
        return str(DEFAULT_PATH)
    raise UserError(
        f"dashboard: no run folders (PATH ...), no --db, and no store at {DEFAULT_PATH} "
        "(VLM_BENCH_DB is not set)"
    )


def cmd_dashboard(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    db = args.db if paths or args.db else default_store()
    out = Path(args.out)
    written = build_site(paths, out, db)
    print(f"{out / 'index.html'} ({len(written)} files)")
    return 0
