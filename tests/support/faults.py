"""`vlm-bench run` of a simulator scenario with one fault switched on, for integration tests.

`write` fills the scenario (simulator flags, timeouts, sweep, on-death policy); `run` runs it
to the end and checks that nothing it started is left running (`all_gone`); `report` reads
the Markdown report of the run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.schema.runfile import read_run
from tests.support.cli import vlm_bench

SCENARIO = """\
name: faults
model: {{served_name: sim-model, tokenizer_path: generated}}
server: {{kind: sim, profile: fast, ready_timeout_s: {ready}, port: {port}, on_death: {death},
          warmup_requests: {server_warmup}, args: {args}}}
load: {{image_width: 64, image_height: 64, min_tokens: 16, max_tokens: 16, warmup_requests: 0,
        min_prompt_length: 40, max_prompt_length: 40, request_timeout_s: {request_timeout}
        {level_timeout}}}
sweep: {{parallel: {parallel}, number: {number}}}
check: {check}
"""


def write(
    tmp_path: Path,
    *,
    args: str = "[]",
    ready: float = 30,
    port: int = 0,
    death: str = "stop",
    parallel: str = "[1, 2]",
    number: str = "[2, 4]",
    server_warmup: int = 0,
    request_timeout: int = 60,
    level_timeout: str = "",
    check: str = "off",
) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        SCENARIO.format(
            args=args,
            ready=ready,
            port=port,
            death=death,
            parallel=parallel,
            number=number,
            server_warmup=server_warmup,
            request_timeout=request_timeout,
            level_timeout=level_timeout,
            check=check,
        )
    )
    return path


def the_run(tmp_path: Path) -> Path:
    runs = list((tmp_path / "out" / "faults").iterdir())
    assert len(runs) == 1
    return runs[0]


def leftovers(run_dir: Path) -> list[str]:
    """Command lines of live processes started for this run (simulator, evalscope)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(run_dir) in cmd:
            found.append(cmd)
    return found


def all_gone(run_dir: Path) -> None:
    """No server the run started (checked by PID) and no process of the run is alive."""
    for pid in read_run(run_dir).provenance.server_pids or []:
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text(), f"server {pid} alive"
    assert not leftovers(run_dir)


def run(
    tmp_path: Path, scenario: Path, timeout: float = 300
) -> tuple[subprocess.CompletedProcess[str], Path]:
    done = vlm_bench("run", str(scenario), "--output-dir", str(tmp_path / "out"), timeout=timeout)
    run_dir = the_run(tmp_path)
    all_gone(run_dir)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done, run_dir


def report(run_dir: Path) -> str:
    return (run_dir / "report.md").read_text()
