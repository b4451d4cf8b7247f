"""A level's plan: what one level of a sweep measures, made once and handed to every step
of it (the server's life around it, the load generator, parsing, judging).

`SweepLevel` is what the sweep asks for (which level, which repeat, its concurrency and
request count: `SweepSpec.runs()`); `LevelPlan` is that level resolved against the
scenario and the run folder by bench/load/plan.py (`plan_level`): its load point, data
seed, warm-up, time limit and raw folder. The words are ARCHITECTURE.md's glossary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Worker w (0-based) of a split level, or round w + 1 of a `sweep.stop` level, draws from
# its level's seed + w * this: far from every level's and repeat's own offsets, and under
# numpy's 2**32 for 256 workers.
WORKER_SEED_STRIDE = 1_000_000


@dataclass(frozen=True)
class SweepLevel:
    """One level of the sweep to measure, in the order the sweep measures them."""

    index: int  # 1-based, the level's place in the sweep
    repeat: int  # 1-based
    parallel: int  # the concurrency (a rate level's cap on requests in flight)
    number: int  # requests measured


@dataclass(frozen=True)
class LoadPoint:
    """What the server is offered: a concurrency, and for a rate level its arrival rate
    (req/s; None in a concurrency sweep, where a fixed `load.rate` is part of the load)."""

    parallel: int
    rate: float | None = None


@dataclass(frozen=True)
class LevelPlan:
    """One level (or one worker's or round's part of it) as the load generator runs it."""

    index: int
    repeat: int
    point: LoadPoint
    number: int  # requests measured (warm-up excluded)
    seed: int  # the data seed
    warmup: int  # warm-up requests, not measured
    warmup_tokens: int | None  # a cheap warm-up request's output tokens (None: full ones)
    time_limit_s: float  # the level's wall-clock limit
    run_dir: Path
    workload: Path | None = None  # the prepared requests file (bench/workload/prepare.py)

    @property
    def parallel(self) -> int:
        return self.point.parallel

    @property
    def name(self) -> str:
        """The raw folder's name: level-NN, with -rR for repeat R > 1."""
        return level_name(self.index, self.repeat)

    @property
    def raw(self) -> Path:
        """The level's raw folder, `RUN/raw/level-NN[-rR]/`: everything the load generator
        and the samplers write for it."""
        return self.run_dir / "raw" / self.name

    @property
    def at(self) -> SweepLevel:
        return SweepLevel(self.index, self.repeat, self.point.parallel, self.number)


def level_name(index: int, repeat: int = 1) -> str:
    return f"level-{index:02d}" + (f"-r{repeat}" if repeat > 1 else "")
