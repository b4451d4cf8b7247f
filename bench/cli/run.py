"""`vlm-bench run`, `check` and `offline`: measure a server, or check its answer."""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

from bench.cli.inputs import _human_output, _scenario
from bench.errors import EXIT_RUN_FAILED, UserError
from bench.measure import answercheck, dryrun, offline, sweep
from bench.report import console, summary
from bench.report.markdown import offline_lines


def cmd_run(args: argparse.Namespace) -> int:
    resume = Path(args.resume) if args.resume else None
    if resume is not None:
        if (
            args.scenario or args.url or args.set or args.parallel or args.number or args.repeats
        ) or (args.dry_run or args.cluster or args.name or args.hardware or args.backend):
            raise UserError(
                "--resume takes only the run directory: the scenario is the one kept in it"
            )
        scenario = sweep.scenario_of(resume)
    elif args.scenario or args.url:
        scenario = _scenario(args)
    else:
        raise UserError("run needs a scenario file, --url URL, or --resume RUN_DIR")
    output_dir = Path(args.out) if args.out else None
    if args.dry_run:
        _, run_dir = sweep.new_run_dir(scenario, output_dir)
        if args.json:
            print(json.dumps(dryrun.plan(scenario, run_dir), indent=2))
        else:
            print(dryrun.dry_run(scenario, run_dir))
        return 0
    # SIGTERM ends a run like Ctrl-C: stop the server, keep what is finished, exit 130.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # With --json, stdout carries the JSON alone: everything else goes to stderr.
    with _human_output(args.json):
        outcome = sweep.run(
            scenario,
            output_dir,
            resume=resume,
            skip_check=args.skip_check,
            keep_raw_db=args.keep_raw_db,
        )
        print(console.run_tables(outcome.run))
        # Incidents and the run's reason: the runner's "What happened" block (stderr).
        print(f"\nreport: {outcome.run_dir / 'report.md'}")
    if args.json:
        print(json.dumps(summary.run_summary(outcome.run, outcome.run_dir), indent=2))
    # Complete, no incident, no level beyond validity.max_failed_ratio (RunResult.ok).
    return 0 if outcome.run.ok else EXIT_RUN_FAILED


def cmd_check(args: argparse.Namespace) -> int:
    scenario = _scenario(args)
    if args.image:
        scenario.check.image = args.image
    out = Path(args.out).resolve() if args.out else None
    result = answercheck.answer_check_server(scenario, out)
    print(result.summary())
    print(
        f"latency {result.latency_s:.2f} s, finish reason {result.finish_reason}, "
        f"usage {result.usage}"
    )
    for warning in result.verdict.warnings:
        print(f"warning: {warning}")
    if not result.valid and result.raw_answer:
        print(f"answer (first 300 characters): {result.raw_answer[:300]!r}")
    if out:
        print(f"request, answer and verdict: {out / 'check'}")
    return 0 if result.valid else EXIT_RUN_FAILED


def cmd_offline(args: argparse.Namespace) -> int:
    scenario = _scenario(args)
    output_dir = Path(args.out) if args.out else None
    run_dir = Path(args.run) if args.run else None
    summary, run, out_dir = offline.measure(scenario, run_dir, output_dir, args.prompts)
    for line in offline_lines(summary, run):
        print(line)
    print(f"\nresults: {out_dir / 'offline.json'}")
    return 0 if summary.wrong_length == 0 else EXIT_RUN_FAILED
