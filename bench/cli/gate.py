"""`vlm-bench gate` and `baseline`: judge a candidate run against a baseline, keep baselines."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.analyze import gate
from bench.analyze.gate import save_baseline
from bench.cli.parser import BASELINES
from bench.report import summary
from bench.report.gate import render
from bench.safepath import is_safe_name, safe_name, writing
from bench.schema.runfile import read_run
from bench.store.auto import index_finished_run


def _run_or_baseline(text: str) -> Path:
    """A run folder (or run.json), or the name of a saved baseline under baselines/."""
    path = Path(text)
    # Only a plain name is looked up there: `../x` must not reach outside baselines/.
    if not path.exists() and is_safe_name(text) and (BASELINES / text / "run.json").exists():
        return BASELINES / text
    return path


def cmd_gate(args: argparse.Namespace) -> int:
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


def cmd_baseline(args: argparse.Namespace) -> int:
    name = safe_name(args.name, "--as")
    with writing(Path(args.dir), "--dir"):
        target = save_baseline(Path(args.run), Path(args.dir) / name, args.force)
        # Into the store of the run it was saved from (reports/vlm-bench.db by default).
        source = Path(args.run) if Path(args.run).is_dir() else Path(args.run).parent
        index_finished_run(target, store_dir=source.resolve().parent.parent)
        print(target)
    return 0
