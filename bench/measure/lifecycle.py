"""The server's life during a sweep: started and made ready (warm-up included), checked
between levels, restarted after a death when `server.on_death` says so, and every server
that did not get ready or died recorded as an incident with the tail of its log."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from bench.errors import ServerError
from bench.load import evalscope
from bench.measure import provenance
from bench.measure.holds import hold
from bench.measure.level import measure, now_iso
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
    result: RunResult, run_dir: Path, exc: ServerError, ready: bool, slot: tuple[int, int]
) -> None:
    """Record a server that did not get ready (timed out, exited, never listened) or whose
    warm-up failed, with the reason and the tail of its log."""
    reason = str(exc).split("; last output:")[0]
    result.incidents.append(
        Incident(
            at=now_iso(),
            level=slot[0],
            parallel=slot[1],
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
    slot: tuple[int, int] = (0, 0),
) -> server.ServerHandle:
    """Launch (or attach), wait until ready, send the server's warm-up requests. A server
    that does not get there is an incident (`slot`: the level it was started for)."""
    try:
        handle = server.start(scenario, tokenizer, run_dir)
    except ServerError as exc:  # a simulator that never wrote its port
        _never_ready(result, run_dir, exc, False, slot)
        raise
    if handle.proc is not None:
        result.provenance.append("server_pids", handle.proc.pid)
    ready = False
    try:
        console.print(f"server ({scenario.server.kind}) starting: {handle.url}")
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
        _never_ready(result, run_dir, exc, ready, slot)
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


def between_levels(
    scenario: Scenario,
    handle: server.ServerHandle,
    tokenizer: str,
    run_dir: Path,
    result: RunResult,
    slot: tuple[int, int, int, int],
    console: Console,
) -> server.ServerHandle:
    """Cool down and reset caches, so one level's caches don't flatter the next. A server
    that died meanwhile is an incident, restarted when the policy says so (else the next
    level finds it dead and the sweep stops there)."""
    if scenario.sweep.cooldown_s:
        time.sleep(scenario.sweep.cooldown_s)
    if scenario.sweep.reset_caches:
        result.provenance.cache_reset = handle.reset_caches()
    if handle.alive():
        return handle
    incident = Incident(
        at=now_iso(),
        level=slot[0],
        parallel=slot[2],
        kind="server died between levels",
        detail=handle.log_tail(),
    )
    result.incidents.append(incident)
    if scenario.server.on_death != "restart":
        return handle
    console.print(f"[yellow]server died before conc {slot[2]}; restarting it[/]")
    handle.stop()
    handle = start_ready(scenario, tokenizer, run_dir, result, console, (slot[0], slot[2]))
    incident.restarted = True
    return handle


def level_with_retry(
    scenario: Scenario,
    handle: server.ServerHandle,
    tokenizer: str,
    run_dir: Path,
    result: RunResult,
    slot: tuple[int, int, int, int],
    progress: Progress,
    console: Console,
) -> tuple[LevelResult, server.ServerHandle]:
    """Measure a level; if the server died during it and the policy says restart, start
    it again and measure the level once more. Deaths are recorded as incidents."""
    i, r, p, _ = slot
    _set_aside(run_dir / "raw" / evalscope.level_name(i, r))
    level = measure(scenario, handle, tokenizer, run_dir, slot, progress)
    if handle.alive():
        return level, handle
    incident = Incident(
        at=now_iso(),
        level=i,
        parallel=p,
        kind="server died",
        detail=handle.log_tail(),
        level_reason=level.reason,
    )
    result.incidents.append(incident)
    if scenario.server.on_death != "restart":
        return level, handle
    console.print(f"[yellow]server died during conc {p}; restarting it[/]")
    handle.stop()
    handle = start_ready(scenario, tokenizer, run_dir, result, console, (i, p))
    incident.restarted = True
    _set_aside(run_dir / "raw" / evalscope.level_name(i, r))
    level = measure(scenario, handle, tokenizer, run_dir, slot, progress)
    if not handle.alive():  # once restarted is the policy; twice is a broken server
        result.incidents.append(
            Incident(
                at=now_iso(),
                level=i,
                parallel=p,
                kind="server died again while the level was measured again",
                detail=handle.log_tail(),
                level_reason=level.reason,
            )
        )
    return level, handle
