"""The server's life during a sweep: started and made ready (warm-up included), checked
between levels, restarted after a death when `server.on_death` says so, and every server
that did not get ready or died recorded as an incident with the tail of its log."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from bench.errors import ServerError
from bench.measure import provenance
from bench.measure.holds import hold
from bench.measure.level import measure, now_iso
from bench.schema.plan import LevelPlan
from bench.schema.provenance import ServerSide
from bench.schema.results import Incident, LevelResult, RunResult
from bench.schema.scenario import Scenario
from bench.serve import server

LOG_TAIL_LINES = 20


def server_log_tail(run_dir: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last lines of server.log (the server's own output), for an incident."""
    path = run_dir / "server.log"
    if not path.exists():
        return []
    return path.read_text(errors="replace").rstrip().splitlines()[-lines:]


def _never_ready(
    result: RunResult, run_dir: Path, exc: ServerError, ready: bool, plan: LevelPlan | None
) -> None:
    """Record a server that did not get ready (timed out, exited, never listened) or whose
    warm-up failed, with the reason and the tail of its log."""
    reason = str(exc).split("; last output:")[0]
    result.incidents.append(
        Incident(
            at=now_iso(),
            level=plan.index if plan else 0,
            parallel=plan.parallel if plan else 0,
            kind="server warm-up failed" if ready else "server never ready",
            detail=reason,
            log_tail=server_log_tail(run_dir),
        )
    )
    result.reason = result.reason or reason


def start_ready(
    scenario: Scenario,
    tokenizer: str,
    run_dir: Path,
    result: RunResult,
    console: Console,
    plan: LevelPlan | None = None,
) -> server.ServerHandle:
    """Launch (or attach), wait until ready, send the server's warm-up requests. A server
    that does not get there is an incident (`plan`: the level it was started for)."""
    try:
        handle = server.start(scenario, tokenizer, run_dir)
    except ServerError as exc:  # a simulator that never wrote its port
        _never_ready(result, run_dir, exc, False, plan)
        raise
    if handle.proc is not None:
        result.provenance.append("server_pids", handle.proc.pid)
    ready = False
    try:
        console.print(handle.announce())
        waited = handle.wait_ready()
        ready = True
        result.provenance.append("server_ready_s", round(waited, 2))
        pid = handle.proc.pid if handle.proc is not None else None
        result.provenance.server = ServerSide.model_validate(
            provenance.server_side(handle.url, pid, handle.container)
        )
        console.print(f"server ready after {waited:.1f} s")
        if scenario.server.warmup_requests:
            hold("warming-up")
            handle.warm_up(scenario.server.warmup_requests)
    except ServerError as exc:
        handle.stop()
        _never_ready(result, run_dir, exc, ready, plan)
        raise
    except BaseException:
        handle.stop()
        raise
    return handle


def _set_aside(raw_level: Path) -> None:
    """Keep an earlier attempt's raw files under another name before a retry."""
    if raw_level.exists():
        k = 1
        while raw_level.with_name(f"{raw_level.name}.attempt-{k}").exists():
            k += 1
        raw_level.rename(raw_level.with_name(f"{raw_level.name}.attempt-{k}"))


class ServerLife:
    """The run's server: started and made ready, checked between levels, restarted after
    a death when `server.on_death` says so (every death an incident in `result`);
    `handle` is whichever server is current, the one to stop when the run ends."""

    def __init__(
        self, scenario: Scenario, tokenizer: str, result: RunResult, run_dir: Path, console: Console
    ) -> None:
        self.scenario, self.tokenizer, self.result = scenario, tokenizer, result
        self.run_dir, self.console = run_dir, console
        self.handle: server.ServerHandle | None = None

    @property
    def current(self) -> server.ServerHandle:
        assert self.handle is not None  # started by `start`
        return self.handle

    def start(self, plan: LevelPlan | None = None) -> server.ServerHandle:
        """`start_ready` (`plan`: the level it is started for)."""
        self.handle = start_ready(
            self.scenario, self.tokenizer, self.run_dir, self.result, self.console, plan
        )
        return self.handle

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.stop()

    def between_levels(self, plan: LevelPlan) -> None:
        """Cool down and reset caches, so one level's caches don't flatter the next
        (`plan`). A server that died meanwhile is an incident, restarted when the policy
        says so (else the next level finds it dead and the sweep stops there)."""
        sweep = self.scenario.sweep
        if sweep.cooldown_s:
            time.sleep(sweep.cooldown_s)
        if sweep.reset_caches:
            self.result.provenance.cache_reset = self.current.reset_caches()
        if not self.current.alive():
            self._restart(plan, self._incident(plan, "server died between levels"), "before")

    def measure(self, plan: LevelPlan, progress: Progress) -> LevelResult:
        """Measure a level; if the server died during it and the policy says restart,
        start it again and measure the level once more. Deaths are recorded as incidents."""
        _set_aside(plan.raw)
        level = measure(self.scenario, self.current, self.tokenizer, plan, progress)
        if self.current.alive():
            return level
        if not self._restart(plan, self._incident(plan, "server died", level.reason), "during"):
            return level
        _set_aside(plan.raw)
        level = measure(self.scenario, self.current, self.tokenizer, plan, progress)
        if not self.current.alive():  # once restarted is the policy; twice is a broken server
            again = "server died again while the level was measured again"
            self.result.incidents.append(self._incident(plan, again, level.reason))
        return level

    def _incident(self, plan: LevelPlan, kind: str, why: str | None = None) -> Incident:
        """The server's death at `plan`'s level, with the tail of its log."""
        return Incident(
            at=now_iso(),
            level=plan.index,
            parallel=plan.parallel,
            kind=kind,
            detail=self.current.log_tail(),
            level_reason=why,
        )

    def _restart(self, plan: LevelPlan, incident: Incident, when: str) -> bool:
        """Record `incident`; start the server again when `server.on_death` says restart
        (False: it stays dead)."""
        self.result.incidents.append(incident)
        if self.scenario.server.on_death != "restart":
            return False
        self.console.print(f"[yellow]server died {when} conc {plan.parallel}; restarting it[/]")
        self.current.stop()
        self.start(plan)
        incident.restarted = True
        return True
