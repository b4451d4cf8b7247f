"""Fleets of sweeps (`vlm-bench fleet PLAN.yaml`, docs/fleet.md): many scenarios on many
hosts, each sweep a Ray task placed by the Ray resources its plan entry asks for.

A task runs `vlm-bench run` as a child on its node (the scenario travels as resolved
YAML, so the node needs no copy of the files) and returns its run folder as tar bytes
through Ray's object store, unpacked under the plan's output_dir here; with `shared_dir:
true` the node writes into output_dir itself (shared storage) and only the path comes back.

`fleet-state.json` in output_dir records each task's outcome by its key (scenario file and
resources); a re-run skips the ones that finished (exit 0) and runs the rest again.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.config.fleet import FleetPlan, FleetTask
from bench.load.ray_workers import connect, tar_folder, untar
from bench.schema.runwrite import write_atomic
from bench.store.auto import index_finished_run

STATE_FILE = "fleet-state.json"


@dataclass
class TaskResult:
    key: str
    exit_code: int
    run_dir: str  # relative to output_dir ("" when the sweep made none)
    host: str
    reason: str  # the sweep's last stderr line when it did not exit 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def sweep_task(scenario_yaml: str, name: str, shared: str | None) -> dict[str, Any]:
    """On a node: `vlm-bench run` of the scenario; its run folder as tar bytes (or, with
    `shared`, written there), its exit code and last stderr line."""
    with tempfile.TemporaryDirectory(prefix="vlm-bench-fleet-") as tmp:
        source = Path(tmp) / "scenario.yaml"
        source.write_text(scenario_yaml)
        out = Path(shared) if shared else Path(tmp) / "out"
        before = set((out / name).glob("*")) if shared else set()
        argv = [sys.executable, "-m", "bench", "run", str(source), "--output-dir", str(out)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        made = sorted(set((out / name).glob("*")) - before)
        lines = [x for x in done.stderr.splitlines() if x.strip()]
        result: dict[str, Any] = {
            "exit_code": done.returncode,
            "host": socket.gethostname(),
            "reason": lines[-1][:300] if lines and done.returncode else "",
            "run_dir": f"{name}/{made[-1].name}" if made else "",
        }
        if made and not shared:
            result["tar"] = tar_folder(made[-1])
        return result


def read_state(output_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((output_dir / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def index_run(run_dir: Path) -> None:
    """A returned run into the store beside the fleet's run folders (VLM_BENCH_DB, else
    `<output_dir>/vlm-bench.db`); a failure is only a warning (bench/store/auto.py)."""
    index_finished_run(run_dir)


def run_fleet(
    plan: FleetPlan,
    tasks: list[FleetTask],
    base: Path,
    tell: Callable[[str], None] = print,
) -> list[TaskResult]:
    """Run the tasks not finished before; every task's result, in plan order (skipped ones
    as recorded). `base` is the plan's folder (output_dir is relative to it)."""
    output_dir = (base / plan.output_dir).resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    state = read_state(output_dir)
    todo = [t for t in tasks if state.get(t.key, {}).get("exit_code") != 0]
    for t in tasks:
        if t not in todo:
            tell(f"skip {t.key}: finished before ({state[t.key]['run_dir']})")
    ray = connect(plan.address) if todo else None
    refs = {}
    for t in todo:
        remote = ray.remote(sweep_task).options(  # type: ignore[union-attr]
            num_cpus=plan.num_cpus, resources=t.resources, max_retries=0
        )
        text = yaml.safe_dump(t.scenario.model_dump(mode="json"), sort_keys=False)
        shared = str(output_dir) if plan.shared_dir else None
        refs[remote.remote(text, t.scenario.name, shared)] = t
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)  # type: ignore[union-attr]
        task = refs[ready[0]]
        result = _finish(ray, ready[0], task, output_dir)
        state[task.key] = result.__dict__
        write_atomic(output_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")
        tell(_line(result))
    return [TaskResult(**state[t.key]) for t in tasks]


def _finish(ray: Any, ref: Any, task: FleetTask, output_dir: Path) -> TaskResult:
    """The task's result, its run folder unpacked and indexed."""
    try:
        got = ray.get(ref)
    except ray.exceptions.RayError as exc:
        reason = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else repr(exc)
        return TaskResult(task.key, 1, "", "", f"task failed: {reason}")
    data = got.pop("tar", None)
    if data is not None and got["run_dir"]:
        untar(data, output_dir / got["run_dir"])
    if got["run_dir"]:
        index_run(output_dir / got["run_dir"])
    return TaskResult(task.key, **got)


def _line(result: TaskResult) -> str:
    where = f" on {result.host}" if result.host else ""
    if result.ok:
        return f"ok {result.key}{where}: {result.run_dir}"
    return f"failed {result.key}{where} (exit {result.exit_code}): {result.reason}"
