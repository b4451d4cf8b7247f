"""`vlm-bench validate`, `report`, `schema`, `tiny-model` and `tokenizer`: scenario
validation, re-rendering a stored run, run.json's JSON Schema and the
set-up tools; each command's arguments beside its handler.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.cli.options import add_out, add_set, parse_set
from bench.config.scenario import load_scenario
from bench.errors import EXIT_USER_ERROR, UserError, one_line
from bench.measure import rejudge
from bench.measure.prepare import tokenizer_problem
from bench.measure.sweep import write_report
from bench.safepath import writing
from bench.schema.runfile import read_run
from bench.schema.runschema import run_json_schema
from bench.tools.tinymodel import build
from bench.tools.tokenizer import ensure_tokenizer


def add_validate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    val = sub.add_parser("validate", help="check scenario files")
    val.add_argument("files", nargs="+")
    val.set_defaults(func=cmd_validate)


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


def add_report(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rep = sub.add_parser(
        "report",
        help="re-render report.md from a run's run.json (or re-judge it: --set validity.…)",
        description="Re-render a run's report.md from its run.json. With --set validity.FIELD="
        "VALUE, re-judge the stored levels with other validity thresholds instead (nothing is "
        "re-measured): the report goes to RUN/report-rejudged.md, report.md is left as it was.",
    )
    rep.add_argument("run_dir")
    add_set(rep, "re-judge with another validity threshold", "validity.max_client_cpu=0.5")
    add_out(rep, "write report.md and its plots into DIR instead of the run folder", alias=False)
    rep.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    run = read_run(run_dir)
    out = Path(args.out) if args.out else None
    overrides = parse_set(args.set)
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


def add_schema(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sch = sub.add_parser("schema", help="print the JSON Schema of run.json (for dashboards, CI)")
    sch.set_defaults(func=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(run_json_schema(), indent=2))
    return 0


def add_tiny_model(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tiny = sub.add_parser(
        "tiny-model",
        help="generate a tiny random Qwen2.5-VL checkpoint "
        "(needs torch: run with .venv-vllm/bin/python -m bench)",
    )
    tiny.add_argument("out_dir")
    tiny.set_defaults(func=cmd_tiny_model)


def cmd_tiny_model(args: argparse.Namespace) -> int:
    print(build(Path(args.out_dir)))
    return 0


def add_tokenizer(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tok = sub.add_parser("tokenizer", help="generate (once) the offline Qwen2-style tokenizer")
    tok.add_argument("--out", metavar="DIR", help="write it here instead of the cache")
    tok.set_defaults(func=cmd_tokenizer)


def cmd_tokenizer(args: argparse.Namespace) -> int:
    print(ensure_tokenizer(Path(args.out) if args.out else None))
    return 0
