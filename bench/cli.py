"""Command-line entry point: parse arguments, call one library function, map to an exit code."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from bench import __version__
from bench.errors import EXIT_INTERRUPTED, EXIT_RUN_FAILED, EXIT_USER_ERROR, UserError

# Simulator flags that map one-to-one onto profile fields.
_SIM_FLAGS: list[tuple[str, str, type, str]] = [
    ("--model", "served_model_name", str, "served model name"),
    ("--time-scale", "time_scale", float, "multiply every modelled duration (0.1 = 10x faster)"),
    ("--jitter", "jitter", float, "relative s.d. of each step's cost"),
    ("--max-num-seqs", "max_num_seqs", int, "running-batch limit"),
    ("--limit-images", "max_images_per_request", int, "images allowed per request"),
    ("--ready-delay", "faults.ready_delay_s", float, "fault: bind the port after S seconds"),
    ("--error-every", "faults.error_every", int, "fault: every K-th request fails"),
    ("--error-status", "faults.error_status", int, "fault: status of those failures (500/429)"),
    ("--drop-every", "faults.drop_every", int, "fault: cut every K-th stream..."),
    ("--drop-after-tokens", "faults.drop_after_tokens", int, "...after M tokens"),
    ("--exit-after", "faults.exit_after_requests", int, "fault: exit when request N+1 arrives"),
    ("--stall-every", "faults.stall_every", int, "fault: engine stalls on every K-th arrival..."),
    ("--stall-s", "faults.stall_s", float, "...for S seconds"),
    (
        "--truncate-output",
        "faults.truncate_output_tokens",
        int,
        "fault: stop after N tokens even with ignore_eos",
    ),
]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _parse_set(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set expects KEY=VALUE, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out


def cmd_sim(args: argparse.Namespace) -> int:
    from bench.sim import profile as profiles
    from bench.sim import server
    from bench.tokenizer import ensure_tokenizer

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


def _scenario(args: argparse.Namespace) -> Any:
    from bench.scenario import load_scenario

    overrides = _parse_set(args.set)
    if args.parallel:
        overrides["sweep.parallel"] = args.parallel
    if args.number:
        overrides["sweep.number"] = args.number
        overrides["sweep.requests_per_level"] = None
    return load_scenario(args.scenario, overrides)


def cmd_run(args: argparse.Namespace) -> int:
    from bench import runner
    from bench.report.markdown import rescale, seed_table, sim_time_scale

    resume = Path(args.resume) if args.resume else None
    if resume is not None:
        if args.scenario or args.set or args.parallel or args.number or args.dry_run:
            raise UserError(
                "--resume takes only the run directory: the scenario is the one kept in it"
            )
        scenario = runner.scenario_of(resume)
    elif args.scenario:
        scenario = _scenario(args)
    else:
        raise UserError("run needs a scenario file (or --resume RUN_DIR)")
    output_dir = Path(args.output_dir) if args.output_dir else None
    if args.dry_run:
        _, run_dir = runner.new_run_dir(scenario, output_dir)
        print(runner.dry_run(scenario, run_dir))
        return 0
    # SIGTERM ends a run like Ctrl-C: stop the server, keep what is finished, exit 130.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    outcome = runner.run(scenario, output_dir, resume=resume)
    table, notes = seed_table(outcome.run.levels)
    print(table)
    for note in notes:
        print(note)
    scale = sim_time_scale(outcome.run.scenario)
    if scale:
        print(f"\nRescaled to the hardware the simulator profile models (time scale {scale}):")
        print(seed_table([rescale(level, scale) for level in outcome.run.levels])[0])
    for incident in outcome.run.incidents:
        print(
            f"incident at conc {incident['parallel']}: {incident['kind']}"
            f"{' (restarted)' if incident.get('restarted') else ''}: {incident['detail']}"
        )
    print(f"\nreport: {outcome.run_dir / 'report.md'}")
    ok = outcome.run.status == "complete" and not outcome.run.incidents
    return 0 if ok else EXIT_RUN_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    from bench.scenario import load_scenario

    bad = 0
    for path in args.files:
        try:
            scenario = load_scenario(path)
        except UserError as exc:
            print(f"invalid: {exc}", file=sys.stderr)
            bad += 1
        else:
            print(f"ok: {path} ({scenario.name}, {len(scenario.sweep.levels())} levels)")
    return EXIT_USER_ERROR if bad else 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report.markdown import render_report
    from bench.results import read_run

    run_dir = Path(args.run_dir)
    run = read_run(run_dir)
    out = run_dir / "report.md"
    out.write_text(render_report(run))
    print(out)
    return 0


def cmd_tiny_model(args: argparse.Namespace) -> int:
    from bench.tinymodel import build

    print(build(Path(args.out_dir)))
    return 0


def cmd_tokenizer(args: argparse.Namespace) -> int:
    from bench.tokenizer import ensure_tokenizer

    print(ensure_tokenizer(Path(args.out) if args.out else None))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vlm-bench", description=__doc__)
    parser.add_argument("--version", action="version", version=f"vlm-bench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any profile field, dotted (faults.stall_s=2)",
    )
    for flag, field, type_, help_ in _SIM_FLAGS:
        sim.add_argument(flag, dest=field.replace(".", "__"), type=type_, help=help_)
    sim.set_defaults(func=cmd_sim)

    run = sub.add_parser("run", help="run a scenario's sweep")
    run.add_argument("scenario", nargs="?", help="scenario YAML file")
    run.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="finish a partial run: re-run its levels that are not ok",
    )
    run.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    run.add_argument("--output-dir", help="instead of the scenario's output_dir")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a scenario field, dotted (load.max_tokens=64)",
    )
    run.add_argument("--parallel", type=_positive_int, nargs="+", help="override sweep.parallel")
    run.add_argument("--number", type=_positive_int, nargs="+", help="override sweep.number")
    run.set_defaults(func=cmd_run)

    val = sub.add_parser("validate", help="check scenario files")
    val.add_argument("files", nargs="+")
    val.set_defaults(func=cmd_validate)

    rep = sub.add_parser("report", help="re-render report.md from a run's run.json")
    rep.add_argument("run_dir")
    rep.set_defaults(func=cmd_report)

    tiny = sub.add_parser(
        "tiny-model",
        help="generate a tiny random Qwen2.5-VL checkpoint "
        "(needs torch: run with .venv-vllm/bin/python -m bench)",
    )
    tiny.add_argument("out_dir")
    tiny.set_defaults(func=cmd_tiny_model)

    tok = sub.add_parser("tokenizer", help="generate (once) the offline Qwen2-style tokenizer")
    tok.add_argument("--out", help="write it here instead of the cache")
    tok.set_defaults(func=cmd_tokenizer)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except UserError as exc:
        print(f"vlm-bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
