"""A sweep end to end: scenario → server → evalscope level by level → results → report.

The run directory (`<output_dir>/<scenario>/<run-id>/`) gets `scenario.yaml` (resolved),
`server.log`, `raw/level-NN/…` (evalscope's files, verbatim), and `run.json`,
`levels.csv` and `report.md`, rewritten atomically after every level so an interrupted or
failed sweep keeps everything it finished.
"""

from __future__ import annotations

import logging
import secrets
import shlex
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import loadgen, ovd, provenance, server
from bench.errors import UserError
from bench.level import Interrupted, measure, now_iso
from bench.report.markdown import plot_caption, render_report
from bench.results import LevelResult, RunResult, aggregate, read_run, write_run
from bench.scenario import GENERATED_TOKENIZER, Scenario, describe_error, scenario_hash

log = logging.getLogger(__name__)


def resolve_tokenizer(scenario: Scenario, must_exist: bool = True) -> str:
    """The tokenizer folder evalscope gets, absolute when it is local (evalscope runs in
    the level's folder, and a path it cannot find is taken for a hub id and fetched)."""
    path = scenario.tokenizer_path
    if path == GENERATED_TOKENIZER:
        from bench.tokenizer import ensure_tokenizer

        return str(ensure_tokenizer().resolve())
    if must_exist and not (Path(path) / "tokenizer_config.json").exists():
        raise UserError(
            f"model.tokenizer_path: {path} has no tokenizer_config.json "
            f"(use a local tokenizer folder, or '{GENERATED_TOKENIZER}')"
        )
    return str(Path(path).resolve()) if Path(path).exists() else path


def dry_run(scenario: Scenario, run_dir: Path) -> str:
    """The exact server and load commands, without running anything."""
    tokenizer = resolve_tokenizer(scenario, must_exist=False)
    url = server.base_url(scenario).replace(":0", ":<free port>")
    lines = [
        f"# scenario {scenario.name} ({scenario_hash(scenario)}): "
        f"{len(scenario.sweep.levels())} levels"
    ]
    argv = server.server_argv(scenario, tokenizer, run_dir)
    if argv:
        env = scenario.server.env
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        lines += [
            f"# server ({scenario.server.kind})",
            (prefix + " " if prefix and scenario.server.kind != "docker" else "")
            + shlex.join(argv),
        ]
    else:
        lines.append(f"# server: external, {url}")
    lines += [
        "# load: the sweep as one evalscope command",
        shlex.join(loadgen.sweep_argv(scenario, url, tokenizer)),
        "# vlm-bench runs it one level per process (evalscope's CLI with its GC frozen):",
    ]
    if scenario.sweep.repeats > 1:
        lines.append(
            f"# each level {scenario.sweep.repeats} times"
            f"{' (rounds over all levels)' if scenario.sweep.interleave else ''}; "
            "repeat k adds 1000 * (k - 1) to the seed"
        )
    for i, (p, n) in enumerate(scenario.sweep.levels(), 1):
        lines.append(
            shlex.join(loadgen.level_argv(scenario, url, tokenizer, i, p, n, run_dir / "raw"))
        )
    return "\n".join(lines)


def scenario_of(run_dir: Path) -> Scenario:
    """The resolved scenario a run directory was made with (for --resume)."""
    data = read_run(run_dir).scenario
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise UserError(describe_error(run_dir / "run.json", exc)) from None


def new_run_dir(scenario: Scenario, output_dir: Path | None) -> tuple[str, Path]:
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
    root = output_dir if output_dir is not None else Path(scenario.output_dir)
    # Absolute: the server and evalscope run in other working directories.
    return run_id, root.resolve() / scenario.name / run_id


@dataclass
class Outcome:
    run: RunResult
    run_dir: Path


def _order(level: LevelResult) -> tuple[int, int]:
    return level.index, level.repeat


def _start_ready(
    scenario: Scenario, tokenizer: str, run_dir: Path, result: RunResult, console: Console
) -> server.ServerHandle:
    """Launch (or attach), wait until ready, send the server's warm-up requests."""
    handle = server.start(scenario, tokenizer, run_dir)
    if handle.proc is not None:
        result.provenance.setdefault("server_pids", []).append(handle.proc.pid)
    try:
        console.print(f"server ({scenario.server.kind}) starting: {handle.url}")
        waited = handle.wait_ready()
        result.provenance.setdefault("server_ready_s", []).append(round(waited, 2))
        pid = handle.proc.pid if handle.proc is not None else None
        result.provenance["server"] = provenance.server_side(handle.url, pid, handle.container)
        console.print(f"server ready after {waited:.1f} s")
        if scenario.server.warmup_requests:
            handle.warm_up(scenario.server.warmup_requests)
    except BaseException:
        handle.stop()
        raise
    return handle


def check_image(scenario: Scenario) -> tuple[bytes, int, int]:
    """The check's image: the scenario's file, or one generated at the load's size."""
    from PIL import Image, UnidentifiedImageError

    from bench import imaging

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
    return ovd.run_check(
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
    )


def check_server(scenario: Scenario, out_dir: Path | None = None) -> ovd.CheckResult:
    """`vlm-bench check`: start (or attach to) the server, wait until ready, check its
    answer, stop it. Files go to `out_dir/check` when given."""
    import tempfile

    console = Console(stderr=True)
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
        result.status = "running"
        result.provenance.setdefault("resumed_at", []).append(now_iso())
        return result, resume
    run_id, run_dir = new_run_dir(scenario, output_dir)
    run_dir.mkdir(parents=True)
    resolved = scenario.model_dump(mode="json")
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
    version = loadgen.check_evalscope()
    tokenizer = resolve_tokenizer(scenario)
    result, run_dir = _begin(scenario, output_dir, resume, tokenizer)
    result.provenance["evalscope"] = version
    done = {(lv.index, lv.repeat): lv for lv in result.levels if lv.status == "ok"}
    result.levels = sorted(done.values(), key=_order)
    write_run(result, run_dir)
    console.print(f"[bold]{scenario.name}[/] → {run_dir}")
    todo = [slot for slot in scenario.sweep.runs() if slot[:2] not in done]
    handle: server.ServerHandle | None = None
    try:
        handle = _start_ready(scenario, tokenizer, run_dir, result, console)
        checked = (
            skip_check or resume or _check_before_sweep(scenario, handle, run_dir, result, console)
        )
        status = "complete" if checked else "failed"
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            for k, slot in enumerate(todo if checked else []):
                if k:
                    _between_levels(scenario, handle, result)
                level, handle = _level_with_retry(
                    scenario, handle, tokenizer, run_dir, result, slot, progress, console
                )
                result.levels.append(level)
                result.levels.sort(key=_order)
                write_run(result, run_dir)
                if level.status != "ok" or not handle.alive():
                    console.print(f"[red]conc {slot[2]}: {level.status}:[/] {level.reason}")
                    status = "failed"
                    break
        result.status = status
    except Interrupted as exc:
        result.levels.append(exc.level)
        result.levels.sort(key=_order)
        result.status = "interrupted"
        raise
    except KeyboardInterrupt:
        result.status = "interrupted"
        raise
    except UserError:
        result.status = "failed"
        raise
    finally:
        if handle is not None:
            handle.stop()
        result.provenance["ended_at"] = now_iso()
        write_run(result, run_dir)
        write_report(result, run_dir)
    return Outcome(result, run_dir)


def write_report(run: RunResult, run_dir: Path) -> None:
    """report.md and its plots (PNG and SVG beside it). A plot that fails is logged, never
    allowed to cost the run its report."""
    from bench.report import plots

    names: list[str] = []
    try:
        series = [(run.scenario_name, aggregate(run.levels))]
        names = plots.write_all(series, plot_caption(run), run_dir)
    except Exception:  # matplotlib trouble must not lose the results
        log.exception("plots failed; report.md is written without them")
    (run_dir / "report.md").write_text(render_report(run, names))


def _between_levels(scenario: Scenario, handle: server.ServerHandle, result: RunResult) -> None:
    """Cool down and reset caches, so one level's caches don't flatter the next."""
    if scenario.sweep.cooldown_s:
        time.sleep(scenario.sweep.cooldown_s)
    if scenario.sweep.reset_caches:
        result.provenance["cache_reset"] = handle.reset_caches()


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
    _set_aside(run_dir / "raw" / loadgen.level_name(i, r))
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
    handle = _start_ready(scenario, tokenizer, run_dir, result, console)
    incident["restarted"] = True
    _set_aside(run_dir / "raw" / loadgen.level_name(i, r))
    return measure(scenario, handle, tokenizer, run_dir, slot, progress), handle
