"""Normalised results: one `LevelResult` per (parallel, number) level, one `RunResult` per run.

All times are seconds and all rates per second, whatever units evalscope printed. A run
is written after every level (bench.schema.runwrite), so an interrupted sweep keeps what
it finished. `schema_version` changes whenever a field changes meaning.

The types are pydantic dataclasses: built in code as plain dataclasses (positional
arguments, `replace`), validated when built, and the one definition of run.json's shape —
bench.schema.runfile validates a stored file against them, `vlm-bench schema` prints their
JSON Schema. The field types say what a file may hold: counts are integers >= 0, figures
finite numbers, no string read as a number (`Strict`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, field, fields, replace
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, Strict
from pydantic.dataclasses import dataclass

from bench.redact import redact_scenario
from bench.schema import provenance as prov_
from bench.schema.attached import AnswerCheckRecord, OfflineSummary
from bench.schema.incident import Incident
from bench.schema.metrics import BY_KEY, REFERENCE_COLUMNS
from bench.schema.precision import PrecisionView, SteadyView
from bench.schema.provenance import Provenance
from bench.schema.scenario import Scenario, without_quiet_defaults
from bench.schema.views import ClientView, ServerView, TelemetryView, WorkloadView

# An int beyond this is not a count anyone measured, and not exact as a float.
MAX_INT = 2**53
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_INT)]
Positive = Annotated[int, Strict(), Field(ge=1, le=MAX_INT)]
# A figure is finite (run.json refuses NaN and Infinity before this; the bound refuses
# 1e999-sized values that overflow every sum).
Figure = Annotated[float, Strict(), Field(ge=-1e300, le=1e300)]
Text = Annotated[str, Strict()]

# The history of versions is in docs/results.md; bench.schema.upgrade reads older ones.
SCHEMA_VERSION = 2


class LevelStatus(StrEnum):
    """ok: measured; partial: measured, but cut short (interrupted, server died);
    failed: no measurement. A StrEnum, so run.json keeps the plain words."""

    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"


class CheckStatus(StrEnum):
    OK = "ok"
    FLAG = "flag"
    NOT_APPLICABLE = "n/a"  # the check could not run (no /metrics, too few samples)


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


def decide_status(succeeded: int, cut_short: bool) -> LevelStatus:
    """A level's status, decided here only: nothing succeeded is failed whatever else
    happened; otherwise cut short (interrupted, server died, evalscope killed) is partial."""
    if succeeded <= 0:
        return LevelStatus.FAILED
    return LevelStatus.PARTIAL if cut_short else LevelStatus.OK


@dataclass
class Check:
    """One validity check's verdict on a level (bench.analyze.validity)."""

    name: Text
    status: CheckStatus
    detail: Text


@dataclass(config=ConfigDict(extra="forbid"))
class WorkerStat:
    """One load worker of a level split across several (load.workers, docs/workers.md)."""

    worker: Positive  # 1-based
    host: Text
    parallel: Positive  # its share of the level's
    number: Count
    seed: Annotated[int, Strict(), Field(ge=-MAX_INT, le=MAX_INT)]  # distinct per worker
    rows: Count = 0  # requests it recorded
    exit_code: Annotated[int, Strict()] | None = None
    cpu_mean: Figure | None = None  # cores, from its release to its exit
    start_delay_s: Figure | None = None  # its release after the common start time
    clock_offset_s: Figure = 0.0  # added to its times to put them on this run's clock


@dataclass(config=ConfigDict(extra="forbid"))
class Diagnostics:
    """What a level noted about its own measurement (schema 1 kept these in `extra`).
    None: not noted. A key it lacks would be lost on reading, so a file's is refused."""

    server_log_bytes: list[Count] | None = None  # [start, end] offsets of the level in server.log
    timed_out: Count | None = None  # requests that hit the client's request timeout
    request_timeout_s: Annotated[float, Strict(), Field(ge=0, le=1e300)] | None = None
    recorded_requests: Count | None = None  # rows evalscope wrote for the level
    undefined: list[Text] | None = None  # figures stored as NaN: no request defined them
    # Cross-checks against evalscope's own summary and percentile files.
    summary_check: Text | None = None
    summary_mismatch: Text | None = None
    percentile_check: Text | None = None
    percentile_mismatch: Text | None = None
    repeats: Positive | None = None  # set on a median standing for its repeats
    workers: list[WorkerStat] | None = None  # set when the level was split
    warmup_tokens: Count | None = None  # each cheap warm-up request's (load.warmup: cheap)


@dataclass
class LevelResult:
    parallel: Positive
    number: Positive
    index: Count = 0  # 1-based position in the sweep
    repeat: Count = 1  # 1-based measurement of this level (sweep.repeats)
    status: LevelStatus = LevelStatus.OK  # decide_status
    reason: Text = ""  # why it is not ok, or what was flagged
    succeeded: Count = 0
    failed: Count = 0
    duration_s: Figure = 0.0
    rps: Figure = 0.0
    latency_avg_s: Figure = 0.0
    latency_p50_s: Figure = 0.0
    latency_p90_s: Figure = 0.0
    latency_p99_s: Figure = 0.0
    ttft_avg_s: Figure = 0.0
    ttft_p50_s: Figure = 0.0
    ttft_p99_s: Figure = 0.0
    tpot_avg_s: Figure = 0.0
    tpot_p50_s: Figure = 0.0
    tpot_p99_s: Figure = 0.0
    itl_avg_s: Figure = 0.0
    output_tok_s: Figure = 0.0
    total_tok_s: Figure = 0.0
    input_tokens_avg: Figure = 0.0
    output_tokens_avg: Figure = 0.0
    # Output-length check: with a fixed length (min == max tokens), how many successful
    # requests produced a different count (from the server's usage), and the range seen.
    expected_output_tokens: Count | None = None
    output_tokens_min: Count = 0
    output_tokens_max: Count = 0
    wrong_length: Count = 0
    raw_dir: Text = ""  # relative to the run directory
    started_at: Text = ""
    finished_at: Text = ""
    # The server's view (bench.measure.servermetrics.summarise), the load generator's
    # (bench.measure.parse.client_stats) and the validity checks
    # (bench.analyze.validity.judge_level).
    server: ServerView = field(default_factory=ServerView)
    client: ClientView = field(default_factory=ClientView)
    checks: list[Check] = field(default_factory=list)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    # The accelerators over the measured window (bench.measure.telemetry.summarise);
    # run.json leaves it out when nothing was measured.
    telemetry: TelemetryView = field(default_factory=TelemetryView)
    # A `workload:` level's requests and what the server saw (bench/measure/seen.py);
    # run.json leaves it out for evalscope's own random data.
    workload: WorkloadView = field(default_factory=WorkloadView)
    # A rate sweep's arrival rate (req/s, sweep.rate), and the requests per second that
    # met the scenario's SLO (figures.goodput); run.json leaves out either when None.
    rate: Figure | None = None
    goodput_rps: Figure | None = None
    # Steady-state figures and confidence intervals (bench/schema/precision.py); left out
    # of run.json when absent.
    steady: SteadyView | None = None
    precision: PrecisionView | None = None

    @property
    def success_rate(self) -> float:
        sent = self.succeeded + self.failed
        return 100.0 * self.succeeded / sent if sent else 0.0

    @property
    def measured(self) -> bool:
        """Whether the level measured anything (not failed, some request succeeded)."""
        return self.status != "failed" and self.succeeded > 0

    @property
    def flags(self) -> list[str]:
        """`check: reason` of every validity check this level failed."""
        return [f"{c.name}: {c.detail}" for c in self.checks if c.status == CheckStatus.FLAG]

    @property
    def trusted(self) -> bool:
        """Measured, with the asked-for output length, and no validity check flagged."""
        return self.measured and self.tokens_honoured and not self.flags

    @property
    def tokens_honoured(self) -> bool:
        return self.expected_output_tokens is None or self.wrong_length == 0

    @property
    def energy_per_token_j(self) -> float:
        """Accelerator energy per output token (J); NaN when not measured."""
        value = self.telemetry.energy_per_token_j
        return math.nan if value is None else value

    @property
    def output_tok_per_j(self) -> float:
        """Output tokens per joule of accelerator energy; NaN when not measured."""
        value = self.telemetry.output_tok_per_j
        return math.nan if value is None else value

    def value(self, key: str) -> float:
        """A metric by its key (bench.schema.metrics), derived ones included."""
        value = getattr(self, key)
        return math.nan if value is None else float(value)

    def to_dict(self) -> dict[str, Any]:
        """The stored fields as run.json writes them, with the derived ones beside: the
        views and diagnostics keep only what was measured or noted."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["checks"] = [asdict(c) for c in self.checks]
        data["server"], data["client"] = self.server.to_dict(), self.client.to_dict()
        data["diagnostics"] = {k: v for k, v in asdict(self.diagnostics).items() if v is not None}
        data.pop("telemetry")
        if not self.telemetry.empty:  # runs without telemetry keep their bytes
            data["telemetry"] = self.telemetry.to_dict()
        data.pop("workload")
        if not self.workload.empty:
            data["workload"] = self.workload.to_dict()
        for name in ("steady", "precision"):
            part = data.pop(name)
            if part is not None:
                data[name] = part.to_dict()
        for name in OPTIONAL_FIGURES:
            if data[name] is None:  # runs without them keep their bytes
                data.pop(name)
        data["success_rate"] = self.success_rate
        data["tokens_honoured"] = self.tokens_honoured
        data["flags"] = self.flags
        return data


# LevelResult's figures that only some levels hold (rate sweeps, a scenario with an SLO).
OPTIONAL_FIGURES = ("rate", "goodput_rps")

# A level's load point: (parallel, rate). Closed loop: rate None, `parallel` clients
# back to back. Open loop (sweep.rate): arrivals at `rate` req/s with at most `parallel`
# in flight; several rates may share one cap, so the rate is part of the identity.
LoadPoint = tuple[int, float | None]


def load_point(level: LevelResult) -> LoadPoint:
    return (level.parallel, level.rate)


def point_label(point: LoadPoint) -> str:
    """`8` for concurrency 8 (closed loop), `8 @ 2 req/s` for rate 2 capped at 8."""
    parallel, rate = point
    return str(parallel) if rate is None else f"{parallel} @ {rate:g} req/s"


def point_order(point: LoadPoint) -> tuple[int, float]:
    """Sort key: by concurrency (cap), then rate; a closed-loop point before its cap's rates."""
    parallel, rate = point
    return (parallel, -math.inf if rate is None else rate)


def by_level(levels: list[LevelResult]) -> list[list[LevelResult]]:
    """The repeats of each level, levels in sweep order."""
    groups: dict[tuple[int, int], list[LevelResult]] = {}
    for level in sorted(levels, key=lambda lv: (lv.index, lv.parallel, lv.repeat)):
        groups.setdefault((level.index, level.parallel), []).append(level)
    return list(groups.values())


_MEDIAN_FIELDS = [
    f.name
    for f in fields(LevelResult)
    if f.type in ("float", float, "Figure") and f.name not in ("duration_s",)
] + ["duration_s"]


def median_level(group: list[LevelResult]) -> LevelResult:
    """One level standing for its repeats: each figure the median over the repeats that
    measured something; counts summed; the worst status."""
    if len(group) == 1:
        return group[0]
    measured = [lv for lv in group if lv.measured] or group
    out = replace(group[0], diagnostics=Diagnostics(repeats=len(group)))
    for name in _MEDIAN_FIELDS:
        setattr(out, name, statistics.median(getattr(lv, name) for lv in measured))
    out.succeeded = sum(lv.succeeded for lv in group)
    out.failed = sum(lv.failed for lv in group)
    out.wrong_length = sum(lv.wrong_length for lv in group)
    out.output_tokens_min = min(lv.output_tokens_min for lv in group)
    out.output_tokens_max = max(lv.output_tokens_max for lv in group)
    worst = list(LevelStatus)[::-1]  # failed, partial, ok
    out.status = min((lv.status for lv in group), key=worst.index)
    out.reason = "; ".join(dict.fromkeys(lv.reason for lv in group if lv.reason))
    out.server = ServerView.median([lv.server for lv in measured])
    out.client = ClientView.median([lv.client for lv in measured])
    out.telemetry = TelemetryView.median([lv.telemetry for lv in measured])
    out.checks = _worst_checks(group)
    goodputs = [lv.goodput_rps for lv in measured if lv.goodput_rps is not None]
    out.goodput_rps = statistics.median(goodputs) if goodputs else None
    out.steady = out.precision = None  # one repeat's; over repeats: analyze.precision
    return out


def _worst_checks(group: list[LevelResult]) -> list[Check]:
    """Per check, the first repeat that flagged it (named), else the first repeat's."""
    out: dict[str, Check] = {}
    flag = CheckStatus.FLAG
    for lv in group:
        for check in lv.checks:
            seen = out.get(check.name)
            if seen is None or (check.status == flag and seen.status != flag):
                out[check.name] = replace(check, detail=f"repeat {lv.repeat}: {check.detail}")
    return list(out.values())


def aggregate(levels: list[LevelResult]) -> list[LevelResult]:
    """One level per sweep position: repeats folded into medians."""
    return [median_level(group) for group in by_level(levels)]


@dataclass
class RunResult:
    run_id: Text
    scenario_name: Text
    scenario: Scenario  # as written: secrets already redacted (bench.measure.sweep._begin)
    scenario_hash: Text
    provenance: Provenance = field(default_factory=Provenance)
    levels: list[LevelResult] = field(default_factory=list)
    status: RunStatus = RunStatus.RUNNING
    incidents: list[Incident] = field(default_factory=list)  # server deaths, restarts
    # Why the run is not clean, in one line: why it failed, or what a complete run's levels
    # got wrong (failed requests beyond validity.max_failed_ratio). "" when clean.
    reason: Text = ""
    check: AnswerCheckRecord | None = None  # the answer check before the sweep (bench/ovd.py)
    offline: OfflineSummary | None = None  # `vlm-bench offline --run` (measure/offline.py)
    schema_version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        """Exit 0: complete, no incident, nothing that makes it untrustworthy (`reason`)."""
        return self.status == "complete" and not self.incidents and not self.reason

    def to_dict(self) -> dict[str, Any]:
        """run.json's content: every field, the parts as their own `to_dict` writes them."""
        return {
            "run_id": self.run_id,
            "scenario_name": self.scenario_name,
            # Redacted again on the way out: whoever built the run, no secret is written.
            "scenario": redact_scenario(
                without_quiet_defaults(self.scenario.model_dump(mode="json"))
            ),
            "scenario_hash": self.scenario_hash,
            "provenance": self.provenance.to_dict(),
            "levels": [level.to_dict() for level in self.levels],
            "status": self.status,
            "incidents": [inc.to_dict() for inc in self.incidents],
            "reason": self.reason,
            "check": self.check.to_dict() if self.check else None,
            "offline": self.offline.to_dict() if self.offline else None,
            "schema_version": self.schema_version,
        }


def server_version(run: RunResult) -> str | None:
    """The serving engine's version as its /version answered it during the run
    (provenance.server.version); None when it was not asked or did not answer."""
    return prov_.server_version(run.provenance)


def provenance_columns(run: RunResult) -> dict[str, Any]:
    """The provenance a table of many runs keeps, flat (bench.schema.provenance.columns)."""
    return prov_.columns(run.provenance)


def is_published(run: RunResult) -> bool:
    return run.provenance.published is not None


def has_metric(run: RunResult, key: str) -> bool:
    """Whether a run holds `key`: a published table has only the reference's columns, a
    telemetry metric needs a level that measured it."""
    if key in BY_KEY and BY_KEY[key].telemetry:
        return any(math.isfinite(lv.value(key)) for lv in run.levels)
    return not is_published(run) or key in REFERENCE_COLUMNS
