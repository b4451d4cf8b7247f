"""K load workers run as one level: started, released together, watched, merged.

`run_pool` drives any workers with `LocalWorker`'s methods (local children, or Ray actors
through bench/load/ray_workers.py): start all; wait until every one is at the barrier;
release them at one wall-clock time a moment ahead; poll until all have exited. A worker
that exits non-zero (killed, crashed) while others run fails the level: the others are
stopped (process-group stop, bench/proc.py) and its exit code and last log line are the
reason. The level's time limit and Ctrl-C stop them all too.

`merge` puts every worker's rows on the run's perf_counter clock (the one the server's
/metrics samples are on): a worker on this boot needs no offset (one CLOCK_MONOTONIC),
one on another host is shifted by the difference of (wall - perf) between its clocks and
ours, so its error is the hosts' wall-clock disagreement (NTP, typically < 1 ms).
Figures are then computed from the merged rows as from one worker's
(bench/measure/parse.py): percentiles over all the raw values, never averaged.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.load import barrier
from bench.load.result import RequestRow, shifted
from bench.load.workers import WorkerOutput, WorkerSpec
from bench.schema.results import WorkerStat

log = logging.getLogger(__name__)

READY_LIMIT_S = 300.0  # evalscope's start-up (imports, tokenizer) on a loaded client
RELEASE_AHEAD_S = 0.5  # the start time, ahead of the release: every worker sees it in time
POLL_S = 0.1
INTERRUPT_STEPS = ((signal.SIGINT, 15.0), (signal.SIGKILL, 5.0))


class Worker(Protocol):
    spec: WorkerSpec

    def start(self) -> None: ...
    def ready(self) -> bool: ...
    def release(self, start_at: float) -> None: ...
    def poll(self) -> int | None: ...
    def progress(self) -> tuple[int, int]: ...
    def stop(self, steps: Sequence[tuple[int, float]] = ...) -> None: ...
    def collect(self) -> WorkerOutput: ...


@dataclass
class PoolRun:
    outputs: list[WorkerOutput] = field(default_factory=list)
    start_at: float | None = None
    timed_out: bool = False
    dead: str = ""  # why a worker failed the level; "" when none did

    @property
    def returncode(self) -> int | None:
        codes = [o.exit_code for o in self.outputs]
        return next((c for c in codes if c not in (0, None)), codes[0] if codes else None)


def run_pool(
    workers: Sequence[Worker],
    timeout_s: float,
    progress: Callable[[int, int], None] | None = None,
) -> PoolRun:
    """Run the workers as one level; see the module docstring. On KeyboardInterrupt they
    get SIGINT (their finished requests stay committed), then it propagates."""
    out = PoolRun()
    try:
        for w in workers:
            w.start()
        out.dead = _wait_ready(workers)
        if not out.dead:
            out.start_at = time.time() + RELEASE_AHEAD_S
            for w in workers:
                w.release(out.start_at)
            out.timed_out, out.dead = _follow(workers, timeout_s, progress)
    except KeyboardInterrupt:
        _stop_all(workers, INTERRUPT_STEPS)
        raise
    finally:
        _stop_all(workers)
    out.outputs = [w.collect() for w in workers]
    if out.dead:
        log.warning("level failed: %s", out.dead)
    return out


def _stop_all(workers: Sequence[Worker], steps: Sequence[tuple[int, float]] | None = None) -> None:
    for w in workers:
        if steps is None:
            w.stop()
        else:
            w.stop(steps)


def _died(workers: Sequence[Worker]) -> str:
    """Why the first worker that exited non-zero did, or ""."""
    for k, w in enumerate(workers, 1):
        code = w.poll()
        if code not in (0, None):
            return f"load worker {k} of {len(workers)} exited {code}"
    return ""


def _wait_ready(workers: Sequence[Worker]) -> str:
    deadline = time.monotonic() + READY_LIMIT_S
    while not all(w.ready() for w in workers):
        if dead := _died(workers):
            return dead + " before the start"
        exited = [k for k, w in enumerate(workers, 1) if w.poll() == 0]
        if exited:
            return f"load worker {exited[0]} exited before the start"
        if time.monotonic() > deadline:
            return f"load workers not ready after {READY_LIMIT_S:g} s"
        time.sleep(POLL_S)
    return ""


def _follow(
    workers: Sequence[Worker], timeout_s: float, progress: Callable[[int, int], None] | None
) -> tuple[bool, str]:
    """(timed out, why a worker failed the level) once every worker has exited."""
    deadline = time.monotonic() + timeout_s
    last = (-1, -1)
    while True:
        if dead := _died(workers):
            return False, dead
        if all(w.poll() is not None for w in workers):
            break
        if time.monotonic() > deadline:
            return True, ""
        counts = _sum(w.progress() for w in workers)
        if progress and counts != last:
            progress(*counts)
            last = counts
        time.sleep(POLL_S)
    if progress:
        progress(*_sum(w.progress() for w in workers))
    return False, ""


def _sum(counts: Any) -> tuple[int, int]:
    done = failed = 0
    for d, f in counts:
        done, failed = done + d, failed + f
    return done, failed


def clock_offset(stamps: dict[str, Any], here: dict[str, Any]) -> float:
    """Seconds to add to a worker's perf_counter times to put them on ours (`here`: a
    `barrier.stamp()` of this process): 0 on the same boot, else from the wall clocks."""
    theirs = stamps.get("released") or stamps.get("ready")
    if theirs is None or theirs.get("boot_id") == here["boot_id"]:
        return 0.0
    return (theirs["wall"] - theirs["perf"]) - (here["wall"] - here["perf"])


def worker_stat(output: WorkerOutput, start_at: float | None, offset: float) -> WorkerStat:
    """The worker's diagnostics: share, seed, rows, exit, CPU, start delay, clock offset."""
    s = output.stamps
    ready, released, end = s.get("ready", {}), s.get("released"), s.get("end")
    cpu = delay = None
    if released and end and end["perf"] > released["perf"]:
        cpu = max(0.0, (end["cpu"] - released["cpu"]) / (end["perf"] - released["perf"]))
    if released and start_at is not None:
        delay = released["wall"] - start_at
    return WorkerStat(
        worker=output.spec.worker,
        host=str(ready.get("host", "")),
        parallel=output.spec.parallel,
        number=output.spec.number,
        seed=output.spec.seed,
        rows=len(output.rows),
        exit_code=output.exit_code,
        cpu_mean=cpu,
        start_delay_s=delay,
        clock_offset_s=offset,
    )


def merge(run: PoolRun) -> tuple[list[RequestRow], list[WorkerStat]]:
    """Every worker's rows on this process's clock, in completion order, and each
    worker's diagnostics."""
    here = barrier.stamp()
    rows: list[RequestRow] = []
    stats = []
    for output in run.outputs:
        offset = clock_offset(output.stamps, here)
        stats.append(worker_stat(output, run.start_at, offset))
        rows += shifted(output.rows, offset)
    rows.sort(key=lambda r: r.completed_time)
    return rows, stats
