"""Turning parsed arguments into library inputs shared by several commands: `--set`
overrides, the scenario (a file, or `--url` for an external server), and where
human-readable output goes when stdout carries `--json`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from bench.cli import attach
from bench.cli.options import parse_set
from bench.config.scenario import load_scenario
from bench.errors import UserError


def _scenario(args: argparse.Namespace) -> Any:
    overrides = parse_set(args.set)
    if getattr(args, "parallel", None):
        overrides["sweep.parallel"] = args.parallel
    if getattr(args, "repeats", None):
        overrides["sweep.repeats"] = args.repeats
    if getattr(args, "number", None):
        overrides["sweep.number"] = args.number
        overrides["sweep.requests_per_level"] = None
    if getattr(args, "cluster", None):
        overrides["cluster.engine"], overrides["cluster.address"] = "ray", args.cluster
    attach.refuse_url_scenario(getattr(args, "scenario", None))
    if getattr(args, "url", None):
        labels = attach.Labels(args.name, args.hardware, args.backend)
        return attach.scenario(
            args.scenario, args.url, args.model, args.tokenizer, overrides, labels
        )
    if getattr(args, "model", None) or getattr(args, "tokenizer", None):
        raise UserError("--model and --tokenizer go with --url (or use --set model.…)")
    if any(getattr(args, k, None) for k in ("name", "hardware", "backend")):
        raise UserError("--name, --hardware and --backend go with --url (or use --set name=…)")
    return load_scenario(args.scenario, overrides)


def _human_output(as_json: bool) -> contextlib.AbstractContextManager[Any]:
    """Where tables and notes go: stdout, or stderr when stdout is for --json."""
    return contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
