"""Inputs for the dashboard's tests: a history of runs with a step in it, a gate result
on its last run, a run whose scenario name is markup, and a history of one scenario name
whose workload changed half-way.

The runs are the stored simulator run (tests/data/runs/sim-quickstart) written once as the
current run.json, then edited as JSON (run id, start time, figures): the file format is
the contract here, not the result model's Python API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.analyze.gate import default_thresholds, gate
from bench.report.gate import render as render_gate
from bench.schema.runfile import read_run
from bench.schema.runwrite import write_run
from tests.support.paths import RUNS, WORKLOAD_RUNS

HISTORY = 12  # runs in the history
STEP_AT = 6  # from this run on, TPOT is 30 % worse and throughput lower
HOSTILE = "<script>alert(1)</script>"


def _current(tmp: Path) -> dict[str, Any]:
    """sim-quickstart's run.json as the current schema writes it."""
    return _current_of(tmp, RUNS / "sim-quickstart")


def _current_of(tmp: Path, run_dir: Path) -> dict[str, Any]:
    """`run_dir`'s run.json as the current schema writes it."""
    folder = tmp / ".current" / run_dir.name
    folder.mkdir(parents=True, exist_ok=True)
    write_run(read_run(run_dir), folder)
    data: dict[str, Any] = json.loads((folder / "run.json").read_text())
    return data


def _write(folder: Path, data: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(json.dumps(data, indent=2))
    return folder


def _scaled(base: dict[str, Any], i: int, step: float | None = None) -> dict[str, Any]:
    """Run i of a history: its id and start (day i + 1), TPOT and latency times `step`
    (default: 1.3 from run STEP_AT on), throughput divided by it, and a small wobble."""
    data = json.loads(json.dumps(base))
    data["run_id"] = f"202612{i + 1:02d}-0900-{i:04d}"
    data["scenario_name"] = data["scenario"]["name"] = "history"
    data["provenance"]["started_at"] = f"2026-12-{i + 1:02d}T09:00:00+00:00"
    data["provenance"]["ended_at"] = f"2026-12-{i + 1:02d}T09:05:00+00:00"
    wobble = 1 + 0.004 * ((i * 7) % 5 - 2)  # small deterministic noise
    if step is None:
        step = 1.3 if i >= STEP_AT else 1.0
    for level in data["levels"]:
        for key in ("tpot_avg_s", "tpot_p99_s", "latency_avg_s", "latency_p99_s"):
            level[key] *= step * wobble
        for key in ("output_tok_s", "rps", "total_tok_s"):
            level[key] *= wobble / step
    return data


def history(root: Path) -> Path:
    """`root`/history: HISTORY runs of scenario "history", a 30 % TPOT step at run
    STEP_AT, and `root`/history/gate/gate.md judging the last run against the first."""
    base = _current(root)
    folders = [_write(root / "history" / f"run{i}", _scaled(base, i)) for i in range(HISTORY)]
    result = gate(read_run(folders[0]), read_run(folders[-1]), default_thresholds())
    (root / "history" / "gate").mkdir()
    (root / "history" / "gate" / "gate.md").write_text(render_gate(result))
    return root / "history"


def hostile(root: Path) -> Path:
    """`root`/hostile: one run whose scenario name (run.json's, not the scenario file's:
    that one must be a plain name), hardware and a check's detail are markup."""
    data = _current(root)
    data["scenario_name"] = HOSTILE
    data["scenario"]["hardware"] = HOSTILE
    data["levels"][0]["checks"][0]["detail"] = HOSTILE
    return _write(root / "hostile" / "run", data)


# The workload history: WORKLOAD_A's runs, then from run WORKLOAD_AT on WORKLOAD_B's (the
# same photos, another reuse ratio), every one of which is slower: a change of workload.
WORKLOAD_A = "wl-f08ebc728eebb7d7"  # the stored run's own
WORKLOAD_B = "wl-00000000b2b2b2b2"
WORKLOAD_AT = 6


def workload_history(root: Path, runs: int = 2 * WORKLOAD_AT) -> Path:
    """`root`/workloads: `runs` runs of scenario "workload-photos", WORKLOAD_A's first and
    WORKLOAD_B's from run WORKLOAD_AT on, with 30 % higher TPOT and lower throughput. Each
    workload's own runs are flat (a 0.4 % wobble)."""
    base = _current_of(root, WORKLOAD_RUNS / "workload-photos")
    for i in range(runs):
        data = _scaled(base, i, 1.3 if i >= WORKLOAD_AT else 1.0)
        data["scenario_name"] = data["scenario"]["name"] = "workload-photos"
        if i >= WORKLOAD_AT:
            data["scenario"]["workload"]["reuse"] = 0.25
            data["scenario_hash"] = "b" * 16
            data["provenance"]["workload_fingerprint"] = WORKLOAD_B
            for level in data["levels"]:
                level["workload"]["fingerprint"] = WORKLOAD_B
        _write(root / "workloads" / f"run{i:02d}", data)
    return root / "workloads"
