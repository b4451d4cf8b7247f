"""Normalised results: one `LevelResult` per (parallel, number) level, one `RunResult` per run.

All times are seconds and all rates per second, whatever units evalscope printed. A run
is written after every level (`write_run`: temp file, then rename), so an interrupted
sweep keeps what it finished. `schema_version` changes whenever a field changes meaning.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from bench.redact import redact_scenario
from bench.schema.incident import Incident
from bench.schema.metrics import REFERENCE_COLUMNS
from bench.schema.scenario import Scenario
from bench.schema.views import ClientView, ServerView

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
    """One validity check's verdict on a level (bench.measure.validity)."""

    name: str
    status: CheckStatus
    detail: str


@dataclass
class WorkerStat:
    """One load worker of a level split across several (load.workers, docs/workers.md)."""

    worker: int  # 1-based
    host: str
    parallel: int  # its share of the level's
    number: int
    seed: int  # its data: distinct per worker, so no two send the same prompts
    rows: int = 0  # requests it recorded
    exit_code: int | None = None
    cpu_mean: float | None = None  # cores, from its release to its exit
    start_delay_s: float | None = None  # its release after the common start time
    clock_offset_s: float = 0.0  # added to its times to put them on this run's clock


@dataclass
class Diagnostics:
    """What a level noted about its own measurement (schema 1 kept these in `extra`).
    None: not noted."""

    server_log_bytes: list[int] | None = None  # [start, end] offsets of the level in server.log
    timed_out: int | None = None  # requests that hit the client's request timeout
    request_timeout_s: float | None = None
    recorded_requests: int | None = None  # rows evalscope wrote for the level
    undefined: list[str] | None = None  # figures stored as NaN: no request defined them
    # Cross-checks against evalscope's own summary and percentile files.
    summary_check: str | None = None
    summary_mismatch: str | None = None
    percentile_check: str | None = None
    percentile_mismatch: str | None = None
    repeats: int | None = None  # set on a median standing for its repeats
    workers: list[WorkerStat] | None = None  # set when the level was split

    def __post_init__(self) -> None:
        # From run.json the workers come as mappings (checked by bench.schema.runfile).
        if self.workers is not None:
            self.workers = [
                w if isinstance(w, WorkerStat) else WorkerStat(**w) for w in self.workers
            ]


@dataclass
class LevelResult:
    parallel: int
    number: int
    index: int = 0  # 1-based position in the sweep
    repeat: int = 1  # 1-based measurement of this level (sweep.repeats)
    status: LevelStatus = LevelStatus.OK  # decide_status
    reason: str = ""  # why it is not ok, or what was flagged
    succeeded: int = 0
    failed: int = 0
    duration_s: float = 0.0
    rps: float = 0.0
    latency_avg_s: float = 0.0
    latency_p50_s: float = 0.0
    latency_p90_s: float = 0.0
    latency_p99_s: float = 0.0
    ttft_avg_s: float = 0.0
    ttft_p50_s: float = 0.0
    ttft_p99_s: float = 0.0
    tpot_avg_s: float = 0.0
    tpot_p50_s: float = 0.0
    tpot_p99_s: float = 0.0
    itl_avg_s: float = 0.0
    output_tok_s: float = 0.0
    total_tok_s: float = 0.0
    input_tokens_avg: float = 0.0
    output_tokens_avg: float = 0.0
    # Output-length check: with a fixed length (min == max tokens), how many successful
    # requests produced a different count (from the server's usage), and the range seen.
    expected_output_tokens: int | None = None
    output_tokens_min: int = 0
    output_tokens_max: int = 0
    wrong_length: int = 0
    raw_dir: str = ""  # relative to the run directory
    started_at: str = ""
    finished_at: str = ""
    # The server's view (bench.measure.servermetrics.summarise), the load generator's
    # (bench.measure.parse.client_stats) and the validity checks
    # (bench.measure.validity.judge_level).
    server: ServerView = field(default_factory=ServerView)
    client: ClientView = field(default_factory=ClientView)
    checks: list[Check] = field(default_factory=list)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

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

    def value(self, key: str) -> float:
        """A metric by its key (bench.schema.metrics), derived ones included."""
        return float(getattr(self, key))

    def to_dict(self) -> dict[str, Any]:
        """The stored fields as JSON values; the views keep only what they measured."""
        data = asdict(self)
        data["server"], data["client"] = self.server.to_dict(), self.client.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LevelResult:
        """From a checked schema-2 level (bench.schema.runfile)."""
        typed = {"status", "checks", "diagnostics", "server", "client"}
        known = {f.name for f in fields(cls)} - typed
        return cls(
            **{k: v for k, v in data.items() if k in known},
            status=LevelStatus(data.get("status", "ok")),
            server=ServerView.model_validate(data.get("server", {})),
            client=ClientView.model_validate(data.get("client", {})),
            checks=[
                Check(c["name"], CheckStatus(c["status"]), c["detail"])
                for c in data.get("checks", [])
            ],
            diagnostics=Diagnostics(**data.get("diagnostics", {})),
        )


def by_level(levels: list[LevelResult]) -> list[list[LevelResult]]:
    """The repeats of each level, levels in sweep order."""
    groups: dict[tuple[int, int], list[LevelResult]] = {}
    for level in sorted(levels, key=lambda lv: (lv.index, lv.parallel, lv.repeat)):
        groups.setdefault((level.index, level.parallel), []).append(level)
    return list(groups.values())


_MEDIAN_FIELDS = [
    f.name
    for f in fields(LevelResult)
    if f.type in ("float", float) and f.name not in ("duration_s",)
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
    out.checks = _worst_checks(group)
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
    run_id: str
    scenario_name: str
    scenario: Scenario  # as written: secrets already redacted (bench.measure.sweep._begin)
    scenario_hash: str
    provenance: dict[str, Any]
    levels: list[LevelResult] = field(default_factory=list)
    status: RunStatus = RunStatus.RUNNING
    incidents: list[Incident] = field(default_factory=list)  # server deaths, restarts
    # Why the run is not clean, in one line: why it failed, or what a complete run's levels
    # got wrong (failed requests beyond validity.max_failed_ratio). "" when clean.
    reason: str = ""
    check: dict[str, Any] | None = None  # the answer check before the sweep (bench/ovd.py)
    offline: dict[str, Any] | None = None  # `vlm-bench offline --run` (bench/measure/offline.py)
    schema_version: int = SCHEMA_VERSION

    @property
    def ok(self) -> bool:
        """Exit 0: complete, no incident, nothing that makes it untrustworthy (`reason`)."""
        return self.status == "complete" and not self.incidents and not self.reason

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # Redacted again on the way out: whoever built the run, no secret is written.
        data["scenario"] = redact_scenario(self.scenario.model_dump(mode="json"))
        data["incidents"] = [inc.to_dict() for inc in self.incidents]
        for level, obj in zip(data["levels"], self.levels, strict=True):
            level["success_rate"] = obj.success_rate
            level["tokens_honoured"] = obj.tokens_honoured
            level["flags"] = obj.flags
            level["server"], level["client"] = obj.server.to_dict(), obj.client.to_dict()
            # Only what was noted: a level's diagnostics are mostly empty.
            level["diagnostics"] = {k: v for k, v in level["diagnostics"].items() if v is not None}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        return cls(
            run_id=data["run_id"],
            scenario_name=data["scenario_name"],
            scenario=_scenario(data["scenario"]),
            scenario_hash=data["scenario_hash"],
            provenance=data.get("provenance", {}),
            levels=[LevelResult.from_dict(lv) for lv in data.get("levels", [])],
            status=RunStatus(data.get("status", "complete")),
            incidents=[Incident.from_dict(inc) for inc in data.get("incidents", [])],
            reason=data.get("reason", ""),  # absent before runs recorded one
            check=data.get("check"),
            offline=data.get("offline"),
            schema_version=data.get("schema_version", SCHEMA_VERSION),
        )


def _scenario(value: Scenario | dict[str, Any]) -> Scenario:
    """runfile.check hands over the model it validated; a plain mapping is validated here."""
    return value if isinstance(value, Scenario) else Scenario.model_validate(value)


def server_version(run: RunResult) -> str | None:
    """The serving engine's version as its /version answered it during the run
    (provenance.server.version: vLLM's {"version": "0.10.1"}, or a bare string); None
    when it was not asked (a published table) or did not answer."""
    server = run.provenance.get("server")
    answer = server.get("version") if isinstance(server, dict) else None
    if isinstance(answer, dict):
        answer = answer.get("version")
    return answer if isinstance(answer, str) and answer else None


def provenance_columns(run: RunResult) -> dict[str, Any]:
    """The provenance a table of many runs keeps, flat: where, when, with what.
    The one place a store, an export or a dashboard reads a run's provenance from."""
    prov = run.provenance

    def mapping(key: str) -> dict[str, Any]:
        value = prov.get(key)
        return value if isinstance(value, dict) else {}

    git, packages, accel = mapping("git"), mapping("packages"), mapping("accelerators")
    return {
        "host": prov.get("host"),
        "started_at": prov.get("started_at"),
        "ended_at": prov.get("ended_at"),
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "server_version": server_version(run),
        "evalscope": prov.get("evalscope") or packages.get("evalscope"),
        "vlm_bench": packages.get("vlm-bench"),
        "accelerators": json.dumps(accel, sort_keys=True) if accel else None,
        "published": is_published(run),
    }


def is_published(run: RunResult) -> bool:
    return "published" in run.provenance


def has_metric(run: RunResult, key: str) -> bool:
    """Whether a run holds `key` (a published table has only the reference's columns)."""
    return not is_published(run) or key in REFERENCE_COLUMNS
