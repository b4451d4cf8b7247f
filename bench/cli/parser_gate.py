"""`vlm-bench gate --adaptive`'s arguments (bench/cli/parser.py is at its size limit)."""

from __future__ import annotations

import argparse


def add_adaptive(gat: argparse.ArgumentParser) -> None:
    gat.add_argument(
        "--adaptive",
        metavar="SCENARIO",
        help="measure the candidate from SCENARIO one repeat at a time, stopping as soon as "
        "the sequential gate decides (docs/gate.md); give no CANDIDATE then",
    )
    gat.add_argument(
        "--max-repeats", type=int, default=5, help="with --adaptive: at most this many repeats"
    )
    gat.add_argument(
        "--output-dir", help="with --adaptive: where the candidate's runs go (scenario's default)"
    )
