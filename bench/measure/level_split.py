"""A level split across load workers (`load.workers` > 1, or `cluster.engine: ray`):
run as one (bench/load/pool.py) while /metrics is sampled, the rows merged onto this
process's clock. bench/measure/level.py parses and judges the merged rows as it does one
evalscope process's.

Local workers write to `raw/level-NN/worker-W/`; Ray workers' folders come back through
Ray and are unpacked there too. The client-CPU samples follow worker 1 (the validity
check's `max_client_cpu` judges one evalscope process, which is what saturates); every
worker's own CPU, start delay and clock offset are in the level's diagnostics.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import Progress

from bench.load import evalscope, pool, ray_workers, workers
from bench.load.evalscope_db import DB_FILE, RequestRow, read_requests
from bench.measure import servermetrics
from bench.schema.results import LevelResult, WorkerStat
from bench.schema.scenario import Scenario
from bench.serve import server


def level_rows(run_dir: Path, level: LevelResult) -> list[RequestRow]:
    """A measured level's request rows, split or not, on the run's clock (each worker's
    stored clock offset applied), in completion order."""
    folder = run_dir / level.raw_dir
    if not level.diagnostics.workers:
        return read_requests(folder)
    rows: list[RequestRow] = []
    for stat in level.diagnostics.workers:
        at = folder / f"worker-{stat.worker}"
        for db in sorted(at.glob(f"level-*/*/{DB_FILE}")):
            rows += pool.shifted(read_requests(db.parent), stat.clock_offset_s)
    return sorted(rows, key=lambda r: r.completed_time)


def worker_count(scenario: Scenario, parallel: int, number: int) -> int:
    """K for this level (1: one evalscope process, exactly as without workers; always
    in a rate sweep, whose arrival rate one process keeps, and in rounds, `sweep.stop`)."""
    if scenario.sweep.rate is not None or scenario.sweep.stop is not None:
        return 1
    return scenario.load.workers_for(parallel, number, os.cpu_count() or 1)


def split(scenario: Scenario) -> bool:
    """Whether levels go through the pool even with one worker (a Ray cluster)."""
    return scenario.cluster is not None and scenario.cluster.engine == "ray"


@dataclass
class SplitRun:
    run: pool.PoolRun
    rows: list[RequestRow]
    stats: list[WorkerStat]
    samples: list[dict[str, Any]]
    interrupted: bool
    folder: Path  # raw/level-NN: a worker-W folder per worker


def _workers(
    scenario: Scenario,
    specs: list[workers.WorkerSpec],
    folder: Path,
    watch: servermetrics.LevelWatch,
) -> list[pool.Worker]:
    """Local children (worker 1's CPU sampled by `watch`), or Ray actors."""
    secrets = (evalscope.secret_args(scenario), evalscope.secret_values(scenario))
    cluster = scenario.cluster
    if cluster is None or cluster.engine == "local":
        return [
            workers.LocalWorker(
                s, folder / f"worker-{s.worker}", secrets, watch.client if s.worker == 1 else None
            )
            for s in specs
        ]
    ray = ray_workers.connect(cluster.address)
    return [
        ray_workers.RayWorker(ray, s, folder / f"worker-{s.worker}", secrets, cluster.resources)
        for s in specs
    ]


def run_split(
    scenario: Scenario,
    handle: server.ServerHandle,
    tokenizer: str,
    run_dir: Path,
    slot: tuple[int, int, int, int],
    progress: Progress,
    k: int,
    timeout_s: float,
) -> SplitRun:
    """Run level `slot` as `k` workers under `run_dir/raw/level-NN/`; Ctrl-C is caught and
    reported (`interrupted`), with what the workers finished."""
    index, repeat, parallel, number = slot
    folder = run_dir / "raw" / evalscope.level_name(index, repeat)
    folder.mkdir(parents=True, exist_ok=True)
    title = f"conc {parallel:>3} ×{k}"
    task = progress.add_task(title, total=number)

    def on_progress(done: int, failed: int) -> None:
        label = title + (f" [red]{failed} failed[/]" if failed else "")
        progress.update(task, completed=done, description=label)

    watch = servermetrics.LevelWatch(
        handle.metrics_text,
        folder,
        scenario.load.warmup_for(parallel),
        scenario.validity.scrape_interval_s,
    )
    members = _workers(
        scenario, workers.plan(scenario, handle.url, tokenizer, slot, k), folder, watch
    )
    watch.start()
    interrupted = False
    try:
        outcome = pool.run_pool(members, timeout_s, on_progress)
    except KeyboardInterrupt:
        interrupted = True
        outcome = pool.PoolRun(outputs=[m.collect() for m in members])
    finally:
        samples = watch.stop()
    rows, stats = pool.merge(outcome)
    return SplitRun(outcome, rows, stats, samples, interrupted, folder)
