"""A level split across K load workers: their shares, and one worker on this host.

Worker w (1-based) is one evalscope child with its share of the level's `parallel` and
`number` (near-equal, the first ones one more) and its own data seed
(bench/load/plan.py `part`), held at the start barrier (bench/load/barrier.py) until the
parent releases every worker at once. `LocalWorker` runs it here; bench/load/ray_workers.py
runs the same class inside a Ray actor on a client node. Both give a `WorkerOutput`: the
worker's request rows on its own clock and its barrier stamps, which bench/load/pool.py
merges onto one clock.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.load import barrier, evalscope
from bench.load.evalscope_db import DB_FILE, count_rows, read_requests
from bench.load.plan import part
from bench.load.result import RequestRow
from bench.proc import FIRM, spawn, stop_group
from bench.redact import scrub_tree
from bench.schema.plan import LevelPlan
from bench.schema.scenario import Scenario
from bench.workload import prepare

BARRIER_DIR = "barrier"


def shares(total: int, k: int) -> list[int]:
    """`total` split into `k` near-equal parts, the first ones one more."""
    return [total // k + (1 if w < total % k else 0) for w in range(k)]


@dataclass(frozen=True)
class WorkerSpec:
    """One worker's part of a level; `args` are evalscope perf's, writing under the
    worker's own folder (its working directory)."""

    worker: int  # 1-based
    parallel: int
    number: int
    seed: int
    args: tuple[str, ...]
    level_dir: str  # where its evalscope folder is, relative to its own folder
    prepared: str | None = None  # a workload's prepared requests (bench/workload/prepare.py)


def plan(
    scenario: Scenario, url: str, tokenizer: str, level: LevelPlan, k: int
) -> list[WorkerSpec]:
    """The level as `k` workers' parts."""
    out = []
    shared = zip(shares(level.parallel, k), shares(level.number, k), strict=True)
    for w, (p, n) in enumerate(shared):
        mine = part(scenario, level, p, n, w)
        if scenario.workload is not None:  # the part's own requests, built before it starts
            total = mine.warmup + mine.number
            mine = replace(mine, workload=prepare.ensure(scenario, mine.seed, total, tokenizer))
        argv = evalscope.level_argv(scenario, url, tokenizer, mine, Path("."))
        out.append(
            WorkerSpec(
                worker=w + 1,
                parallel=p,
                number=n,
                seed=mine.seed,
                args=tuple(argv[len(evalscope.evalscope_command()) :]),
                level_dir=str(evalscope.level_dir(Path("."), mine, scenario)),
                prepared=str(mine.workload) if mine.workload else None,
            )
        )
    return out


@dataclass
class WorkerOutput:
    """What a worker left: its rows (its own perf_counter clock), its barrier stamps, how
    it ended; `files` is its folder as tar bytes when it ran on another node."""

    spec: WorkerSpec
    rows: list[RequestRow]
    stamps: dict[str, Any]
    exit_code: int | None
    log_tail: str
    files: bytes | None = field(default=None, repr=False)


class LocalWorker:
    """One worker as a child of this process, in `folder` (made here)."""

    def __init__(
        self,
        spec: WorkerSpec,
        folder: Path,
        secrets: tuple[Sequence[str], Sequence[str]],
        on_start: Callable[[int], None] | None = None,
    ) -> None:
        self.spec, self.folder, self.secrets, self.on_start = spec, folder, secrets, on_start
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / evalscope.LOG_FILE

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        (self.folder / BARRIER_DIR).mkdir(parents=True, exist_ok=True)
        env = evalscope.child_env()
        env[barrier.BARRIER_ENV] = str((self.folder / BARRIER_DIR).resolve())
        if self.secrets[0]:
            env[evalscope.SECRET_ARGS_ENV] = json.dumps(list(self.secrets[0]))
        argv = [sys.executable, "-m", "bench.load.evalscope", *self.spec.args]
        with self.log.open("ab") as fh:
            self.proc = spawn(argv, fh, env=env, cwd=self.folder)
        if self.on_start is not None:
            self.on_start(self.proc.pid)

    def ready(self) -> bool:
        return barrier.is_ready(self.folder / BARRIER_DIR)

    def release(self, start_at: float) -> None:
        barrier.release(self.folder / BARRIER_DIR, start_at)

    def poll(self) -> int | None:
        return self.proc.poll() if self.proc is not None else None

    def progress(self) -> tuple[int, int]:
        return count_rows(self.folder / self.spec.level_dir)

    def stop(self, steps: Sequence[tuple[int, float]] = FIRM) -> None:
        if self.proc is not None:
            stop_group(self.proc, steps)

    def collect(self) -> WorkerOutput:
        """Its rows and stamps, once it has exited (or been stopped); secrets scrubbed."""
        scrub_tree(self.folder, list(self.secrets[1]))
        level = self.folder / self.spec.level_dir
        rows = read_requests(level) if (level / DB_FILE).exists() else []
        return WorkerOutput(
            self.spec,
            rows,
            barrier.report(self.folder / BARRIER_DIR),
            self.poll(),
            log_tail(self.log),
        )


def log_tail(path: Path) -> str:
    """The last non-empty line of a log (300 characters at most)."""
    try:
        lines = [x.strip() for x in path.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return "(no output)"
    return lines[-1][:300] if lines else "(no output)"
