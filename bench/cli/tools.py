"""`vlm-bench sim`, `validate`, `report`, `schema`, `tiny-model` and `tokenizer`: the
simulator, scenario validation, re-rendering a stored run, run.json's JSON Schema and the
set-up tools.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.cli.inputs import _parse_set
from bench.cli.parser import _SIM_FLAGS
from bench.config.scenario import load_scenario
from bench.errors import EXIT_USER_ERROR, UserError, one_line
from bench.measure import rejudge
from bench.measure.prepare import tokenizer_problem
from bench.measure.sweep import write_report
from bench.safepath import writing
from bench.schema.runfile import read_run
from bench.schema.runschema import run_json_schema
from bench.sim import profile as profiles
from bench.sim import server
from bench.tools.tinymodel import build
from bench.tools.tokenizer import ensure_tokenizer


def cmd_sim(args: argparse.Namespace) -> int:
    if args.list_profiles:
        for name in profiles.builtin_profiles():
            print(name)
        return 0
    overrides = _parse_set(args.set)
    for _flag, field, _type, _help in _SIM_FLAGS:
        value = getattr(args, field.replace(".", "__"))
        if value is not None:
            overrides[field] = value
    profile = profiles.load_profile(args.profile, overrides)
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


def cmd_validate(args: argparse.Namespace) -> int:
    bad = 0
    for path in args.files:
        try:
            scenario = load_scenario(path)
            if problem := tokenizer_problem(scenario):  # evalscope would fail on it later
                raise UserError(f"{path}: {problem}")
        except UserError as exc:
            print(f"invalid: {one_line(exc)}", file=sys.stderr)
            bad += 1
        else:
            print(f"ok: {path} ({scenario.name}, {len(scenario.sweep.levels())} levels)")
    return EXIT_USER_ERROR if bad else 0


def cmd_report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    run = read_run(run_dir)
    out = Path(args.out) if args.out else None
    overrides = _parse_set(args.set)
    if not overrides:
        with writing(out or run_dir, "--out" if out else "report"):
            write_report(run, out or run_dir)
        print((out or run_dir) / "report.md")
        return 0
    changes = rejudge.rejudge(run, overrides, run_dir / "run.json")
    with writing(out or run_dir, "--out" if out else "report"):
        path = rejudge.write_rejudged(run, overrides, run_dir, out)
    # The console says what the new thresholds changed; the report holds the details.
    for line in changes or ["no level's flags changed"]:
        print(line, file=sys.stderr)
    print(path)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(run_json_schema(), indent=2))
    return 0


def cmd_tiny_model(args: argparse.Namespace) -> int:
    print(build(Path(args.out_dir)))
    return 0


def cmd_tokenizer(args: argparse.Namespace) -> int:
    print(ensure_tokenizer(Path(args.out) if args.out else None))
    return 0
