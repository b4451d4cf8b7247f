"""What a load generator gives back for a level: one `RequestRow` per measured request and
the client's own `ClientAccount` (how it ended, its log's last line, its workers).

Raw values only: every figure is computed from the rows by bench/schema/figures.py
(bench/measure/parse.py), whichever load generator and strategy produced them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.schema.figures import Timed, level_figures, tpot, wall_time
from bench.schema.results import WorkerStat


@dataclass(frozen=True)
class RequestRow:
    """One measured request, as the client recorded it (times on its perf_counter clock, s).

    Latency, TTFT and token counts are None for failed requests: the client stores none.
    Raw values only: every figure is computed by bench/schema/figures.py.
    `request_sha` matches the simulator's trace (`bench.digest.request_digest`); None
    when the stored body has nothing to digest.
    """

    start_time: float
    completed_time: float
    latency_s: float | None
    ttft_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    success: bool
    request_sha: str | None
    stream: bool = True
    itl_s: tuple[float, ...] = ()  # gaps between successive non-empty content chunks

    @property
    def tpot_s(self) -> float | None:
        """`bench.schema.figures.tpot`; None for a failed request or one without a decode
        phase (at most one token)."""
        if self.latency_s is None or self.ttft_s is None or self.completion_tokens is None:
            return None
        return tpot(self.latency_s, self.ttft_s, self.completion_tokens)


def shifted(rows: list[RequestRow], offset: float) -> list[RequestRow]:
    """`rows` with `offset` seconds added to their times."""
    if not offset:
        return rows
    return [
        replace(r, start_time=r.start_time + offset, completed_time=r.completed_time + offset)
        for r in rows
    ]


def row_figures(records: Sequence[RequestRow]) -> dict[str, float]:
    """Every derived LevelResult figure by field name; NaN where it is undefined."""
    ok = [
        Timed(
            latency_s=r.latency_s or 0.0,
            ttft_s=r.ttft_s or 0.0,
            prompt_tokens=r.prompt_tokens or 0,
            output_tokens=r.completion_tokens or 0,
            stream=r.stream,
            itl_s=r.itl_s,
        )
        for r in records
        if r.success  # the reader refuses a successful row without these figures
    ]
    wall = wall_time((r.start_time, r.completed_time) for r in records)
    return level_figures(ok, wall)


@dataclass
class ClientAccount:
    """The load generator's own account of a level: how its client ended."""

    client: str  # which load generator ("evalscope")
    exit_code: int | None = None  # the first non-zero exit among its processes, else the first
    timed_out: bool = False  # stopped at the plan's time limit
    interrupted: bool = False  # Ctrl-C or SIGTERM cut it short
    recorded: bool = True  # whether it wrote any results at all
    log_tail: str = ""  # the last line of its log
    dead: str = ""  # why a worker failed the level ("" when none did)
    workers: list[WorkerStat] = field(default_factory=list)  # a split level's workers
    # Its own figures that disagree with ours: LevelResult.diagnostics field → note.
    cross_check: dict[str, str] = field(default_factory=dict)
    # A `workload:` level's prepared request files, one per client process (warm-up first;
    # bench/workload/prepare.py): what was sent, to judge what the server saw.
    prepared: list[Path] = field(default_factory=list)


@dataclass
class LoadRun:
    """A level as the load generator ran it."""

    rows: list[RequestRow]  # every measured request, on this process's clock
    account: ClientAccount
    folder: Path  # where its raw files are (a level's `raw_dir`)
    rounds: list[list[RequestRow]] = field(default_factory=list)  # `sweep.stop`: per round


@dataclass
class RawPart:
    """One client process's raw record of a level: which load worker and `sweep.stop`
    round it was (1-based), its rows on the run's clock, and the files holding them (the
    client's own database, deletable once the rows are kept elsewhere)."""

    worker: int
    round: int
    rows: list[RequestRow]
    files: list[Path]
