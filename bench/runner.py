"""A sweep end to end: scenario → server → evalscope level by level → results → report.

The run directory (`<output_dir>/<scenario>/<run-id>/`) gets `scenario.yaml` (resolved),
`server.log`, `raw/level-NN/…` (evalscope's files, verbatim), and `run.json`,
`levels.csv` and `report.md`, rewritten atomically after every level so an interrupted or
failed sweep keeps everything it finished.
"""

from __future__ import annotations

import logging
import math
import secrets
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import loadgen, provenance, server
from bench.errors import UserError
from bench.parse import parse_level
from bench.report.markdown import render_report
from bench.results import LevelResult, RunResult, write_run
from bench.scenario import GENERATED_TOKENIZER, Scenario, scenario_hash

log = logging.getLogger(__name__)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def resolve_tokenizer(scenario: Scenario, must_exist: bool = True) -> str:
    path = scenario.tokenizer_path
    if path == GENERATED_TOKENIZER:
        from bench.tokenizer import ensure_tokenizer

        return str(ensure_tokenizer())
    if must_exist and not (Path(path) / "tokenizer_config.json").exists():
        raise UserError(
            f"model.tokenizer_path: {path} has no tokenizer_config.json "
            f"(use a local tokenizer folder, or '{GENERATED_TOKENIZER}')"
        )
    return path


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
    for i, (p, n) in enumerate(scenario.sweep.levels(), 1):
        lines.append(
            shlex.join(loadgen.level_argv(scenario, url, tokenizer, i, p, n, run_dir / "raw"))
        )
    return "\n".join(lines)


def new_run_dir(scenario: Scenario, output_dir: Path | None) -> tuple[str, Path]:
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
    root = output_dir if output_dir is not None else Path(scenario.output_dir)
    return run_id, root / scenario.name / run_id


@dataclass
class Outcome:
    run: RunResult
    run_dir: Path


def _level_timeout(scenario: Scenario, parallel: int, number: int) -> float:
    """Generous: every wave of requests may take the full request timeout."""
    waves = math.ceil(number / parallel) + 1
    return waves * scenario.load.request_timeout_s + 120


def _measure_level(
    scenario: Scenario,
    handle: server.ServerHandle,
    tokenizer: str,
    run_dir: Path,
    index: int,
    parallel: int,
    number: int,
    progress: Progress,
) -> LevelResult:
    name = loadgen.level_name(index)
    raw = run_dir / "raw"
    (raw / name).mkdir(parents=True, exist_ok=True)
    argv = loadgen.level_argv(scenario, handle.url, tokenizer, index, parallel, number, raw)
    folder = loadgen.level_dir(raw, index, parallel, number)
    task = progress.add_task(f"conc {parallel:>3}", total=number)

    def on_progress(done: int, failed: int) -> None:
        label = f"conc {parallel:>3}" + (f" [red]{failed} failed[/]" if failed else "")
        progress.update(task, completed=done, description=label)

    log_start = handle.log_offset()
    started = now_iso()
    interrupted = False
    try:
        outcome = loadgen.run_level(
            argv,
            folder / "benchmark_data.db",
            raw / name / "evalscope.log",
            _level_timeout(scenario, parallel, number),
            on_progress,
        )
    except KeyboardInterrupt:
        interrupted = True
        outcome = loadgen.LevelRun(None)
    if (folder / "benchmark_data.db").exists():
        level = parse_level(folder, parallel, number, scenario.load.fixed_output_tokens)
    else:
        tail = _tail(raw / name / "evalscope.log")
        level = LevelResult(
            parallel,
            number,
            status="failed",
            reason=f"evalscope wrote no results (exit {outcome.returncode}): {tail}",
        )
    level.raw_dir = str(folder.relative_to(run_dir))
    level.started_at, level.finished_at = started, now_iso()
    level.extra["server_log_bytes"] = [log_start, handle.log_offset()]
    recorded = level.succeeded + level.failed
    if interrupted or outcome.timed_out:
        why = "interrupted" if interrupted else "timed out"
        _flag(level, "partial", f"{why} after {recorded} of {number} requests")
    elif outcome.returncode not in (0, None):
        _flag(level, level.status, f"evalscope exited {outcome.returncode}")
    if not handle.alive():
        _flag(level, "partial", f"server died: {handle.log_tail()}")
    if interrupted:
        raise _Interrupted(level)
    return level


def _flag(level: LevelResult, status: str, reason: str) -> None:
    """Put `reason` first; a level with no successful request is failed whatever else."""
    level.status = status if level.succeeded else "failed"
    level.reason = "; ".join(filter(None, [reason, level.reason]))


class _Interrupted(KeyboardInterrupt):
    def __init__(self, level: LevelResult) -> None:
        super().__init__()
        self.level = level


def _tail(path: Path) -> str:
    if not path.exists():
        return "(no output)"
    lines = [x.strip() for x in path.read_text(errors="replace").splitlines() if x.strip()]
    return lines[-1][:300] if lines else "(no output)"


def run(
    scenario: Scenario, output_dir: Path | None = None, console: Console | None = None
) -> Outcome:
    """Run every level; returns the run (status complete, failed or interrupted)."""
    console = console or Console(stderr=True)
    version = loadgen.check_evalscope()
    tokenizer = resolve_tokenizer(scenario)
    run_id, run_dir = new_run_dir(scenario, output_dir)
    run_dir.mkdir(parents=True)
    resolved = scenario.model_dump(mode="json")
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    argv = server.server_argv(scenario, tokenizer, run_dir)
    prov = provenance.collect(argv, scenario.server.env)
    prov.update(started_at=now_iso(), evalscope=version)
    result = RunResult(run_id, scenario.name, resolved, scenario_hash(scenario), prov)
    write_run(result, run_dir)
    console.print(f"[bold]{scenario.name}[/] → {run_dir}")
    try:
        with server.start(scenario, tokenizer, run_dir) as handle:
            console.print(f"server ({scenario.server.kind}) starting: {handle.url}")
            waited = handle.wait_ready()
            prov["server_ready_s"] = round(waited, 2)
            console.print(f"server ready after {waited:.1f} s")
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console, transient=False) as progress:
                for i, (p, n) in enumerate(scenario.sweep.levels(), 1):
                    try:
                        level = _measure_level(
                            scenario, handle, tokenizer, run_dir, i, p, n, progress
                        )
                    except _Interrupted as exc:
                        result.levels.append(exc.level)
                        raise
                    result.levels.append(level)
                    write_run(result, run_dir)
                    if level.status == "failed" or not handle.alive():
                        result.status = "failed"
                        console.print(f"[red]level conc {p}: {level.status}:[/] {level.reason}")
                        break
                else:
                    result.status = "complete"
    except KeyboardInterrupt:
        result.status = "interrupted"
        raise
    except UserError:
        result.status = "failed"
        raise
    finally:
        prov["ended_at"] = now_iso()
        write_run(result, run_dir)
        (run_dir / "report.md").write_text(render_report(result))
    return Outcome(result, run_dir)
