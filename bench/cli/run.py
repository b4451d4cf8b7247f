"""`vlm-bench run`, `check` and `offline`: measure a server, or check its answer; each
command's arguments beside its handler (run's --url flags: bench/cli/attach.py)."""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path
from typing import Any

from bench.cli.attach import add_url_flags
from bench.cli.inputs import _human_output, _scenario
from bench.cli.options import add_json, add_out, add_set, positive_int
from bench.errors import EXIT_RUN_FAILED, UserError
from bench.measure import answercheck, dryrun, offline, sweep
from bench.report import console, summary
from bench.report.markdown import offline_lines


class _LevelsThenScenario(argparse.Action):
    """`--parallel 1 2 SCENARIO`: nargs="+" swallows the scenario after the numbers, so
    trailing words that are not integers become the positional scenario instead."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        words = list(values)
        tail: list[str] = []
        while words and not words[-1].lstrip("+-").isdigit():
            tail.insert(0, words.pop())
        if not words or len(tail) > 1 or (tail and getattr(namespace, "scenario", None)):
            raise argparse.ArgumentError(self, f"expected positive integers, got {values!r}")
        try:
            setattr(namespace, self.dest, [positive_int(w) for w in words])
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None
        if tail:
            namespace.scenario = tail[0]


class _KeepScenario(argparse.Action):
    """The optional scenario positional: argparse fills an absent one with None after the
    options, which would undo the scenario _LevelsThenScenario found."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values is not None or getattr(namespace, self.dest, None) is None:
            setattr(namespace, self.dest, values)


def add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run",
        help="run a scenario's sweep (or benchmark a running server: --url)",
        description="Sweep the scenario's concurrency levels with evalscope and write a run "
        "folder (run.json, levels.csv, report.md, plots, raw data). With --url and no scenario "
        "file, benchmark a server that is already running with the quick start's load and "
        "sweep. Exit 0: every level ok; 1: a level failed or an incident; 2: bad input; "
        "130: interrupted.",
    )
    run.add_argument("scenario", nargs="?", action=_KeepScenario, help="scenario YAML file")
    add_url_flags(run)
    run.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="finish a partial run: re-run its levels that are not ok",
    )
    run.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    add_out(run, "write the run folder under DIR instead of the scenario's output_dir")
    add_set(run, "override a scenario field", "load.max_tokens=64")
    for flag in ("parallel", "number"):
        run.add_argument(
            f"--{flag}", nargs="+", action=_LevelsThenScenario, help=f"override sweep.{flag}"
        )
    run.add_argument("--repeats", type=positive_int, help="override sweep.repeats")
    run.add_argument("--skip-check", action="store_true", help="no answer check before the sweep")
    run.add_argument(
        "--keep-raw-db",  # bench/measure/records.py
        action="store_true",
        help="keep evalscope's benchmark_data.db files (default: deleted once the level's "
        "records are in requests.parquet)",
    )
    run.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="place the load workers as Ray actors on this cluster's client nodes "
        "(auto, HOST:PORT or ray://HOST:PORT); same as --set cluster.engine=ray "
        "--set cluster.address=ADDRESS",
    )
    add_json(run, "{run_dir, status, levels, incidents}")
    run.set_defaults(func=cmd_run)


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


def add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    chk = sub.add_parser(
        "check",
        help="send the reference's OVD request and judge the answer's format",
        description="Start (or attach to) the scenario's server, send the reference's "
        "open-vocabulary-detection request and check the answer: <description>, a JSON "
        "block with answer yes/no and bbox_2d boxes inside the image. Exit 0: format "
        "valid; 1: format invalid, the request failed or the server never got ready; "
        "2: bad input.",
    )
    chk.add_argument("scenario", help="scenario YAML file")
    chk.add_argument("--image", help="PNG/JPEG to send (default: the scenario's, or generated)")
    chk.add_argument(
        "--out", metavar="DIR", help="keep the request, answer and verdict in this folder"
    )
    add_set(chk, "override a scenario field", "check.event=cup")
    chk.set_defaults(func=cmd_check)


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


def add_offline(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    off = sub.add_parser(
        "offline",
        help="offline throughput: one batch through vLLM's LLM class (the reference's path)",
        description="Run the scenario's prompts (evalscope's generator, same load and "
        "seed as the sweep) as one batch through vllm.LLM in a child Python that has vLLM "
        "(offline.python), and report requests/s and output tok/s. With --run, the result "
        "joins that run and its report shows it beside the best online level.",
    )
    off.add_argument("scenario", help="scenario YAML file")
    off.add_argument("--run", metavar="RUN_DIR", help="attach the result to this run")
    off.add_argument("--prompts", type=positive_int, help="batch size (default: offline.prompts)")
    add_out(off, "write under DIR instead of the scenario's output_dir (without --run)")
    add_set(off, "override a scenario field", "offline.engine_args.dtype=float16")
    off.set_defaults(func=cmd_offline)


def cmd_offline(args: argparse.Namespace) -> int:
    scenario = _scenario(args)
    output_dir = Path(args.out) if args.out else None
    run_dir = Path(args.run) if args.run else None
    summary, run, out_dir = offline.measure(scenario, run_dir, output_dir, args.prompts)
    for line in offline_lines(summary, run):
        print(line)
    print(f"\nresults: {out_dir / 'offline.json'}")
    return 0 if summary.wrong_length == 0 else EXIT_RUN_FAILED
