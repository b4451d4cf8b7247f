"""argparse declaration of `vlm-bench history`, kept beside bench/cli/parser.py (which is
at its size limit) and called from it. No command logic: `func` comes from the table
`bench.cli` passes in.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a concurrency >= 1, got {text!r}")
    return value


def add_history_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    commands: Mapping[str, Callable[[argparse.Namespace], int]],
) -> None:
    """`vlm-bench history`, bound to `commands["history"]`."""
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
        "--conc", type=_positive_int, required=True, help="the concurrency level (parallel)"
    )
    hist.add_argument(
        "--by", choices=("date", "commit", "version"), default="date", help="label runs by"
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
    hist.set_defaults(func=commands["history"])
