"""A sweep end to end: scenario → server → evalscope level by level → results → report.

The run directory (`<output_dir>/<scenario>/<run-id>/`) gets `scenario.yaml` (resolved),
`server.log`, `raw/level-NN/…` (evalscope's files, verbatim), and `run.json`,
`levels.csv` and `report.md`, rewritten atomically after every level so an interrupted or
failed sweep keeps everything it finished.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shlex
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import imaging, ovd, redact
from bench.config.scenario import validate
from bench.errors import ServerError, UserError
from bench.load import evalscope
from bench.measure import provenance
from bench.measure.level import Interrupted, measure, now_iso
from bench.measure.lock import RunLock
from bench.measure.outputs import (
    Reserve,
    WriteFailed,
    failure_reason,
    finish,
    is_file_error,
    save,
    write_report,
)
from bench.measure.prepare import check_references, resolve_tokenizer
from bench.report.markdown import what_happened
from bench.safepath import writing
from bench.schema.results import CheckStatus, LevelResult, RunResult, RunStatus
from bench.schema.runfile import read_run
from bench.schema.scenario import Scenario, scenario_hash
from bench.serve import answer, server

log = logging.getLogger(__name__)


def dry_run(scenario: Scenario, run_dir: Path) -> str:
    """The exact server and load commands, without running anything."""
    tokenizer = resolve_tokenizer(scenario, must_exist=False)
    url = server.base_url(scenario).replace(":0", ":<free port>")
    lines = [
        f"# scenario {scenario.name} ({scenario_hash(scenario)}): "
        f"{len(scenario.sweep.levels())} levels"
    ]
    # Printed through bench.redact: `${env:NAME}` shows as written, a literal secret not.
    argv = redact.redact_argv(server.server_argv(scenario, tokenizer, run_dir))
    if argv:
        env = redact.redact_env(scenario.server.env)
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        lines += [
            f"# server ({scenario.server.kind})",
            (prefix + " " if prefix and scenario.server.kind != "docker" else "")
            + shlex.join(argv),
        ]
    else:
        lines.append(f"# server: external, {url}")
    keys = redact.redact_argv(evalscope.secret_args(scenario, resolved=False))
    lines += [
        "# load: the sweep as one evalscope command",
        shlex.join(redact.redact_argv([*evalscope.sweep_argv(scenario, url, tokenizer), *keys])),
        "# vlm-bench runs it one level per process (evalscope's CLI with its GC frozen):",
    ]
    if scenario.sweep.repeats > 1:
        lines.append(
            f"# each level {scenario.sweep.repeats} times"
            f"{' (rounds over all levels)' if scenario.sweep.interleave else ''}; "
            "repeat k adds 1000 * (k - 1) to the seed"
        )
    for i, (p, n) in enumerate(scenario.sweep.levels(), 1):
        level = evalscope.level_argv(scenario, url, tokenizer, i, p, n, run_dir / "raw")
        lines.append(shlex.join(redact.redact_argv(level)))
    if keys:
        lines.append(f"# each level also gets {shlex.join(keys)} (through its environment)")
    return "\n".join(lines)


def scenario_of(run_dir: Path) -> Scenario:
    """The resolved scenario a run directory was made with (for --resume)."""
    data = read_run(run_dir).scenario
    if redact.REDACTED in json.dumps(data):
        # Literal secrets are redacted before run.json is written, so they cannot come back.
        raise UserError(
            f"{run_dir / 'run.json'}: scenario: its secrets were redacted when it was "
            "written; to resume, give them as ${env:NAME} references in the scenario file"
        )
    return validate(data, run_dir / "run.json")


def new_run_dir(scenario: Scenario, output_dir: Path | None) -> tuple[str, Path]:
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
    root = output_dir if output_dir is not None else Path(scenario.output_dir)
    check_output_dir(root)
    # Absolute: the server and evalscope run in other working directories.
    return run_id, root.resolve() / scenario.name / run_id


def check_output_dir(root: Path) -> None:
    """Refuse an output folder that cannot be made or written (under a file, read-only)
    before anything starts, so the mistake costs no server start-up."""
    probe = root.absolute()
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"output_dir {root}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"output_dir {root}: {probe} is not writable")


@dataclass
class Outcome:
    run: RunResult
    run_dir: Path


def _order(level: LevelResult) -> tuple[int, int]:
    return level.index, level.repeat


LOG_TAIL_LINES = 20
INTERRUPTED = "interrupted (Ctrl-C or SIGTERM); `vlm-bench run --resume RUN_DIR` finishes it"


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
        {
            "at": now_iso(),
            "level": slot[0],
            "parallel": slot[1],
            "kind": "server warm-up failed" if ready else "server never ready",
            "detail": reason,
            "log_tail": server_log_tail(run_dir),
        }
    )
    result.reason = result.reason or reason


def _start_ready(
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
        result.provenance.setdefault("server_pids", []).append(handle.proc.pid)
    ready = False
    try:
        console.print(f"server ({scenario.server.kind}) starting: {handle.url}")
        waited = handle.wait_ready()
        ready = True
        result.provenance.setdefault("server_ready_s", []).append(round(waited, 2))
        pid = handle.proc.pid if handle.proc is not None else None
        result.provenance["server"] = provenance.server_side(handle.url, pid, handle.container)
        console.print(f"server ready after {waited:.1f} s")
        if scenario.server.warmup_requests:
            handle.warm_up(scenario.server.warmup_requests)
    except ServerError as exc:
        handle.stop()
        _never_ready(result, run_dir, exc, ready, slot)
        raise
    except BaseException:
        handle.stop()
        raise
    return handle


def check_image(scenario: Scenario) -> tuple[bytes, int, int]:
    """The check's image: the scenario's file, or one generated at the load's size."""
    from PIL import Image, UnidentifiedImageError  # heavy: only when the scenario names an image

    spec = scenario.check
    if spec.image is None:
        w, h = scenario.load.image_width, scenario.load.image_height
        return imaging.check_image(w, h), w, h
    try:
        with Image.open(spec.image) as img:
            img.load()
            rgb = img.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise UserError(f"check.image: cannot read {spec.image}: {exc}") from None
    return imaging.png_bytes(rgb), rgb.width, rgb.height


def answer_check(
    scenario: Scenario,
    url: str,
    out_dir: Path | None,
    image: tuple[bytes, int, int] | None = None,
) -> ovd.CheckResult:
    """The seed's OVD request to a ready server, judged (files kept in `out_dir`);
    `image` is `check_image(scenario)` when the caller already has it."""
    spec = scenario.check
    png, width, height = image or check_image(scenario)
    return answer.run_check(
        url,
        scenario.model.served_name,
        png,
        width,
        height,
        spec.describe,
        spec.event,
        spec.max_tokens,
        spec.temperature,
        scenario.load.request_timeout_s,
        out_dir,
        server.request_headers(scenario),
    )


def check_server(scenario: Scenario, out_dir: Path | None = None) -> ovd.CheckResult:
    """`vlm-bench check`: start (or attach to) the server, wait until ready, check its
    answer, stop it. Files go to `out_dir/check` when given."""
    import tempfile

    console = Console(stderr=True)
    check_references(scenario)
    tokenizer = resolve_tokenizer(scenario)
    image = check_image(scenario)  # a bad image file fails before any server starts
    with tempfile.TemporaryDirectory(prefix="vlm-bench-check-") as tmp:
        work = out_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        with server.start(scenario, tokenizer, work) as handle:
            console.print(f"server ({scenario.server.kind}) starting: {handle.url}")
            console.print(f"server ready after {handle.wait_ready():.1f} s")
            return answer_check(scenario, handle.url, work / "check", image)


def _check_before_sweep(
    scenario: Scenario,
    handle: server.ServerHandle,
    run_dir: Path,
    result: RunResult,
    console: Console,
) -> bool:
    """Run the answer check unless it is off; False when a required check failed."""
    mode = scenario.check.mode
    if mode == "off":
        return True
    check = answer_check(scenario, handle.url, run_dir / "check")
    result.check = {"mode": mode, **check.to_dict()}
    colour = "green" if check.valid else ("red" if mode == "required" else "yellow")
    console.print(f"[{colour}]answer check: {check.summary()}[/] ({check.latency_s:.2f} s)")
    if check.valid or mode != "required":
        return True
    result.incidents.append(
        {
            "at": now_iso(),
            "level": 0,
            "parallel": 0,
            "kind": "answer check failed (check: required), sweep not run",
            "detail": check.summary(),
        }
    )
    result.reason = f"answer check failed: {check.summary()}"
    return False


def _set_aside(raw_level: Path) -> None:
    """Keep an earlier attempt's raw files under another name before a retry."""
    if raw_level.exists():
        k = 1
        while raw_level.with_name(f"{raw_level.name}.attempt-{k}").exists():
            k += 1
        raw_level.rename(raw_level.with_name(f"{raw_level.name}.attempt-{k}"))


def _begin(
    scenario: Scenario, output_dir: Path | None, resume: Path | None, tokenizer: str
) -> tuple[RunResult, Path]:
    if resume is not None:
        resume = resume.resolve()
        result = read_run(resume)
        if result.scenario_hash != scenario_hash(scenario):
            raise UserError(
                f"{resume}: run.json's scenario differs from {scenario.name}'s "
                "(resume reads the scenario kept in the run directory)"
            )
        result.status = RunStatus.RUNNING
        result.reason = ""  # why the earlier attempt stopped; this one says its own
        result.provenance.setdefault("resumed_at", []).append(now_iso())
        return result, resume
    run_id, run_dir = new_run_dir(scenario, output_dir)
    # Everything written goes through bench.redact (the server's own server.log aside).
    resolved = redact.redact_scenario(scenario.model_dump(mode="json"))
    with writing(run_dir, "output_dir"):  # the check above cannot foresee a full disk
        run_dir.mkdir(parents=True)
        (run_dir / "scenario.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    prov = provenance.collect(server.server_argv(scenario, tokenizer, run_dir), scenario.server.env)
    prov["started_at"] = now_iso()
    return RunResult(run_id, scenario.name, resolved, scenario_hash(scenario), prov), run_dir


def run(
    scenario: Scenario,
    output_dir: Path | None = None,
    console: Console | None = None,
    resume: Path | None = None,
    skip_check: bool = False,
) -> Outcome:
    """Run the levels not yet finished; returns the run (complete, failed or interrupted).

    With `resume`, continue that run directory: levels with status ok are kept, the
    others are measured again (their earlier raw files are set aside).
    """
    console = console or Console(stderr=True)
    check_references(scenario)
    version = evalscope.check_evalscope()
    tokenizer = resolve_tokenizer(scenario)
    result, run_dir = _begin(scenario, output_dir, resume, tokenizer)
    lock = RunLock(run_dir)  # exit 2 while another vlm-bench runs in this directory
    reserve = Reserve(run_dir)  # room for the last run.json on a disk that fills up
    result.provenance["evalscope"] = version
    done = {(lv.index, lv.repeat): lv for lv in result.levels if lv.status == "ok"}
    result.levels = sorted(done.values(), key=_order)
    todo = [slot for slot in scenario.sweep.runs() if slot[:2] not in done]
    handle: server.ServerHandle | None = None
    failed_write: OSError | None = None
    try:
        save(result, run_dir)
        console.print(f"[bold]{scenario.name}[/] → {run_dir}")
        handle = _start_ready(scenario, tokenizer, run_dir, result, console)
        checked = (
            skip_check or resume or _check_before_sweep(scenario, handle, run_dir, result, console)
        )
        status = RunStatus.COMPLETE if checked else RunStatus.FAILED
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            for k, slot in enumerate(todo if checked else []):
                if k:
                    handle = _between_levels(
                        scenario, handle, tokenizer, run_dir, result, slot, console
                    )
                level, handle = _level_with_retry(
                    scenario, handle, tokenizer, run_dir, result, slot, progress, console
                )
                result.levels.append(level)
                result.levels.sort(key=_order)
                save(result, run_dir)
                if level.status != "ok" or not handle.alive():
                    console.print(f"[red]conc {slot[2]}: {level.status}:[/] {level.reason}")
                    status = RunStatus.FAILED
                    why = level.reason or "the server died"
                    result.reason = result.reason or f"conc {slot[2]}: {level.status}: {why}"
                    break
        result.status = status
        result.reason = result.reason or failed_requests(result.levels)
    except (WriteFailed, OSError) as exc:
        # A file of ours could not be written (disk full, most often, found by whichever
        # write came first: run.json, a level's samples, evalscope's log): stop here;
        # `finish` records it in run.json and says so in one line, exit 1.
        failed_write = exc.error if isinstance(exc, WriteFailed) else exc
        if not is_file_error(failed_write):
            raise
        if failed_write.filename is None:
            failed_write.filename = str(run_dir)
        result.status = RunStatus.FAILED
        result.reason = failure_reason(failed_write)
    except Interrupted as exc:
        result.levels.append(exc.level)
        result.levels.sort(key=_order)
        result.status = RunStatus.INTERRUPTED
        result.reason = result.reason or INTERRUPTED
        raise
    except KeyboardInterrupt:
        result.status = RunStatus.INTERRUPTED
        result.reason = result.reason or INTERRUPTED
        raise
    except UserError as exc:
        result.status = RunStatus.FAILED
        result.reason = result.reason or str(exc)
        if isinstance(exc, ServerError):  # a bad input (exit 2) stays one line
            _tell(console, result)
        raise
    finally:
        stop = handle.stop if handle is not None else lambda: None
        finish(result, run_dir, console, write_report, stop, lock, failed_write, reserve)
    if not result.ok:
        _tell(console, result)
    return Outcome(result, run_dir)


def _tell(console: Console, run: RunResult) -> None:
    """The report's "What happened" section, on the console."""
    console.print("[bold red]What happened[/]")
    for line in what_happened(run):
        console.print(line, markup=False, highlight=False)


def failed_requests(levels: list[LevelResult]) -> str:
    """Why a complete sweep is still not clean: levels whose failed requests went beyond
    validity.max_failed_ratio (their `success` check is flagged)."""
    bad = [
        f"conc {lv.parallel}: {check.detail}"
        for lv in levels
        for check in lv.checks
        if check.name == "success" and check.status == CheckStatus.FLAG
    ]
    return "failed requests beyond validity.max_failed_ratio: " + "; ".join(bad) if bad else ""


def _between_levels(
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
        result.provenance["cache_reset"] = handle.reset_caches()
    if handle.alive():
        return handle
    incident = {
        "at": now_iso(),
        "level": slot[0],
        "parallel": slot[2],
        "kind": "server died between levels",
        "detail": handle.log_tail(),
    }
    result.incidents.append(incident)
    if scenario.server.on_death != "restart":
        return handle
    console.print(f"[yellow]server died before conc {slot[2]}; restarting it[/]")
    handle.stop()
    handle = _start_ready(scenario, tokenizer, run_dir, result, console, (slot[0], slot[2]))
    incident["restarted"] = True
    return handle


def _level_with_retry(
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
    incident = {
        "at": now_iso(),
        "level": i,
        "parallel": p,
        "kind": "server died",
        "detail": handle.log_tail(),
        "level_reason": level.reason,
    }
    result.incidents.append(incident)
    if scenario.server.on_death != "restart":
        return level, handle
    console.print(f"[yellow]server died during conc {p}; restarting it[/]")
    handle.stop()
    handle = _start_ready(scenario, tokenizer, run_dir, result, console, (i, p))
    incident["restarted"] = True
    _set_aside(run_dir / "raw" / evalscope.level_name(i, r))
    level = measure(scenario, handle, tokenizer, run_dir, slot, progress)
    if not handle.alive():  # once restarted is the policy; twice is a broken server
        result.incidents.append(
            {
                "at": now_iso(),
                "level": i,
                "parallel": p,
                "kind": "server died again while the level was measured again",
                "detail": handle.log_tail(),
                "level_reason": level.reason,
            }
        )
    return level, handle
