"""`vlm-bench sim`: the reference simulator server, its arguments beside its handler.

Apart from the other tools because a run starts it as a child process: this module imports
only the simulator, so the server is listening a fraction of a second after it starts.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.cli.options import add_set, finite_float, parse_set
from bench.errors import UserError
from bench.sim import lean, server
from bench.sim import profile as profiles
from bench.tools.tokenizer import ensure_tokenizer

_SIM_FLAGS: list[tuple[str, str, Callable[[str], Any], str]] = [
    ("--model", "served_model_name", str, "served model name"),
    (
        "--time-scale",
        "time_scale",
        finite_float,
        "multiply every modelled duration (0.1 = 10x faster)",
    ),
    ("--jitter", "jitter", finite_float, "relative s.d. of each step's cost"),
    ("--max-num-seqs", "max_num_seqs", int, "running-batch limit"),
    ("--limit-images", "max_images_per_request", int, "images allowed per request"),
    (
        "--ready-delay",
        "faults.ready_delay_s",
        finite_float,
        "fault: bind the port after S seconds",
    ),
    ("--error-every", "faults.error_every", int, "fault: every K-th request fails"),
    ("--error-status", "faults.error_status", int, "fault: status of those failures (500/429)"),
    ("--drop-every", "faults.drop_every", int, "fault: cut every K-th stream..."),
    ("--drop-after-tokens", "faults.drop_after_tokens", int, "...after M tokens"),
    ("--exit-after", "faults.exit_after_requests", int, "fault: exit when request N+1 arrives"),
    ("--stall-every", "faults.stall_every", int, "fault: engine stalls on every K-th arrival..."),
    ("--stall-s", "faults.stall_s", finite_float, "...for S seconds"),
    (
        "--truncate-output",
        "faults.truncate_output_tokens",
        int,
        "fault: stop after N tokens even with ignore_eos",
    ),
]


def add_sim(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser("sim", help="run the reference simulator server")
    sim.add_argument("--profile", default="fast", help="built-in profile name or YAML file")
    sim.add_argument("--list-profiles", action="store_true", help="list built-in profiles")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    sim.add_argument("--port-file", help="write the bound port to this file once listening")
    sim.add_argument("--seed", type=int, default=0, help="seeds jitter and natural lengths")
    sim.add_argument("--trace", help="append one JSON line per request to this file")
    sim.add_argument("--tokenizer", help="tokenizer folder (default: the generated one)")
    sim.add_argument(
        "--lean",
        action="store_true",
        help="fixed-timing profiles only: the client self-calibration's light server "
        "(no /metrics, no faults; bench/sim/lean.py)",
    )
    add_set(sim, "override any profile field", "faults.stall_s=2")
    for flag, field, type_, help_ in _SIM_FLAGS:
        sim.add_argument(flag, dest=field.replace(".", "__"), type=type_, help=help_)
    sim.set_defaults(func=cmd_sim)


def cmd_sim(args: argparse.Namespace) -> int:
    if args.list_profiles:
        for name in profiles.builtin_profiles():
            print(name)
        return 0
    overrides = parse_set(args.set)
    for _flag, field, _type, _help in _SIM_FLAGS:
        value = getattr(args, field.replace(".", "__"))
        if value is not None:
            overrides[field] = value
    profile = profiles.load_profile(args.profile, overrides)
    if args.lean:
        trace = Path(args.trace) if args.trace else None
        lean.run(
            profile, args.host, args.port, trace, Path(args.port_file) if args.port_file else None
        )
        return 0
    tokenizer = Path(args.tokenizer) if args.tokenizer else ensure_tokenizer()
    if not (tokenizer / "tokenizer.json").exists():
        raise UserError(f"--tokenizer {tokenizer}: no tokenizer.json there")
    server.run(
        profile,
        args.host,
        args.port,
        str(tokenizer),
        args.seed,
        Path(args.trace) if args.trace else None,
        Path(args.port_file) if args.port_file else None,
    )
    return 0
