"""`vlm-bench dashboard`: the static site of many runs (bench/report/dashboard/)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.errors import UserError
from bench.report.dashboard.site import build_site


def cmd_dashboard(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    if not paths and not args.db:
        raise UserError("dashboard: give run folders (PATH ...) or a results store (--db)")
    out = Path(args.out)
    written = build_site(paths, out, args.db)
    print(f"{out / 'index.html'} ({len(written)} files)")
    return 0
