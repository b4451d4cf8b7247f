"""`vlm-bench gate` and `baseline`: judge a candidate run against a baseline, keep baselines;
each command's arguments beside its handler."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from bench.analyze import gate, sequential
from bench.analyze.gate import save_baseline
from bench.cli.options import add_json
from bench.config.scenario import load_scenario
from bench.errors import UserError
from bench.measure import adaptive_gate
from bench.report import summary
from bench.report.gate import render
from bench.report.sequential import render_sequential
from bench.safepath import is_safe_name, safe_name, writing
from bench.schema.runfile import read_run
from bench.store.auto import index_finished_run

BASELINES = Path("baselines")


def add_gate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gat = sub.add_parser(
        "gate",
        help="judge a candidate run against a baseline: exit 1 on a confirmed regression",
        description="Per (concurrency, metric) cell: REGRESSION when worse beyond the "
        "metric's band and floor and (>= 5 repeats a side) significant by a one-sided "
        "Mann-Whitney U test at alpha / levels; SUSPECT, NOISY, FAILED (new failed "
        "requests), NO DATA (a value missing, NaN or infinite: never passes). Exit 0 "
        "pass, 1 regression, 2 incomparable input or a cell with no data, 3 (--strict) "
        "only suspect or noisy cells.",
    )
    gat.add_argument("baseline", help="run folder, run.json, or a name under baselines/")
    gat.add_argument("candidate", nargs="?", help="run folder, run.json, or baseline name")
    _add_adaptive(gat)
    gat.add_argument("--thresholds", help="YAML: {alpha: 0.05, thresholds: {KEY: {band, floor}}}")
    gat.add_argument("--strict", action="store_true", help="exit 3 on suspect or noisy cells")
    gat.add_argument(
        "--allow-mismatch",
        action="store_true",
        help="gate runs of other hardware, backend or software versions",
    )
    gat.add_argument("--out", metavar="DIR", help="also write the verdict as DIR/gate.md")
    add_json(gat, "{verdict, exit_code, cells}")
    gat.set_defaults(func=cmd_gate)


def _add_adaptive(gat: argparse.ArgumentParser) -> None:
    """`gate --adaptive` and its companions (bench/measure/adaptive_gate.py)."""
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


def _run_or_baseline(text: str) -> Path:
    """A run folder (or run.json), or the name of a saved baseline under baselines/."""
    path = Path(text)
    # Only a plain name is looked up there: `../x` must not reach outside baselines/.
    if not path.exists() and is_safe_name(text) and (BASELINES / text / "run.json").exists():
        return BASELINES / text
    return path


def cmd_gate(args: argparse.Namespace) -> int:
    if args.adaptive is not None:
        return _adaptive(args)
    if args.candidate is None:
        raise UserError("gate: give CANDIDATE, or --adaptive SCENARIO to measure one")
    baseline = read_run(_run_or_baseline(args.baseline))
    candidate = read_run(_run_or_baseline(args.candidate))
    thresholds, alpha = gate.settings(candidate, Path(args.thresholds) if args.thresholds else None)
    result = gate.gate(baseline, candidate, thresholds, alpha, args.allow_mismatch)
    text = render(result)
    if args.out:
        out = Path(args.out)
        with writing(out):
            out.mkdir(parents=True, exist_ok=True)
            (out / "gate.md").write_text(text)
    if args.json:
        print(json.dumps(summary.gate_summary(result, args.strict), indent=2))
    else:
        print(text, end="")
    return result.exit_code(args.strict)


def _adaptive(args: argparse.Namespace) -> int:
    """Measure the candidate repeat by repeat until the sequential gate decides."""
    if args.candidate is not None:
        raise UserError("gate --adaptive measures the candidate: give no CANDIDATE")
    if not 1 <= args.max_repeats <= 20:
        raise UserError(f"--max-repeats {args.max_repeats}: give 1 to 20")
    baseline = read_run(_run_or_baseline(args.baseline))
    scenario = load_scenario(Path(args.adaptive))
    out = Path(args.output_dir or scenario.output_dir) / f"{scenario.name}-adaptive"
    runner = adaptive_gate.sweep_runner(Console(stderr=True))
    got = adaptive_gate.adaptive_gate(scenario, baseline, out, runner, args.max_repeats)
    text = render_sequential(got.verdict, got.looks, args.max_repeats, got.cells)
    if args.out:
        with writing(Path(args.out)):
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / "gate.md").write_text(text)
    if args.json:
        print(json.dumps(summary.sequential_summary(got.verdict, got.looks, got.cells), indent=2))
    else:
        print(text, end="")
    if got.verdict == sequential.REGRESSION:
        return gate.EXIT_REGRESSION
    return gate.EXIT_STRICT if args.strict and got.verdict == sequential.SUSPECT else gate.EXIT_OK


def add_baseline(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    base = sub.add_parser("baseline", help="keep a run as a named baseline")
    base_sub = base.add_subparsers(dest="action", required=True, metavar="ACTION")
    save = base_sub.add_parser("save", help="copy a run's results into baselines/NAME")
    save.add_argument("run", help="run folder")
    save.add_argument("--as", dest="name", required=True, help="baseline name")
    save.add_argument("--dir", default=str(BASELINES), help="where baselines live")
    save.add_argument("--force", action="store_true", help="replace an existing baseline")
    save.set_defaults(func=cmd_baseline)


def cmd_baseline(args: argparse.Namespace) -> int:
    name = safe_name(args.name, "--as")
    with writing(Path(args.dir), "--dir"):
        target = save_baseline(Path(args.run), Path(args.dir) / name, args.force)
        # Into the store of the run it was saved from (reports/vlm-bench.db by default).
        source = Path(args.run) if Path(args.run).is_dir() else Path(args.run).parent
        index_finished_run(target, store_dir=source.resolve().parent.parent)
        print(target)
    return 0
