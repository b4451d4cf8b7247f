"""No orphans: a server script that backgrounds a child ignoring SIGINT and SIGTERM leaves
nothing behind after a normal end, SIGINT, SIGTERM or SIGKILL of vlm-bench.

Bug pinned: the group stop gave up once the group leader had exited, and a SIGKILLed
vlm-bench reached only its direct child (PR_SET_PDEATHSIG), so the script's `&` job kept
running. The server is a command-kind bash script that starts the project's simulator with
`exec` (so the leader dies at the first SIGINT) after starting the stubborn child.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import start_vlm_bench

pytestmark = pytest.mark.integration

STUBBORN = (
    "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
)

SCRIPT = """\
#!/bin/bash
{python} -c '{stubborn}' &
echo $! >> {pids}
echo $$ >> {pids}
exec {python} -m bench sim --profile fast --host 127.0.0.1 --port {port} --model sim-model \
    --set decode_base_s={decode}
"""

SCENARIO = """\
name: orphans
model: {{served_name: sim-model, tokenizer_path: generated}}
server: {{kind: command, argv: [bash, {script}], port: {port}, ready_timeout_s: 60}}
load: {{image_width: 64, image_height: 64, min_tokens: 16, max_tokens: 16, warmup_requests: 0,
        min_prompt_length: 40, max_prompt_length: 40}}
sweep: {{parallel: [1], number: [{number}]}}
check: {{mode: off}}
"""


@pytest.fixture(autouse=True)
def kill_leftovers(tmp_path: Path) -> Iterator[None]:
    """A failing test must not leave its stubborn child behind for ten minutes."""
    yield
    pids_file = tmp_path / "pids"
    for pid in [int(x) for x in pids_file.read_text().split()] if pids_file.exists() else []:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scenario(tmp_path: Path, number: int, decode: float) -> Path:
    port = free_port()
    script = tmp_path / "server.sh"
    script.write_text(
        SCRIPT.format(
            python=sys.executable,
            stubborn=STUBBORN,
            pids=tmp_path / "pids",
            port=port,
            decode=decode,
        )
    )
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(script=script, port=port, number=number))
    return path


def start(tmp_path: Path, path: Path) -> subprocess.Popen[str]:
    return start_vlm_bench("run", str(path), "--output-dir", str(tmp_path / "out"))


def stat(pid: int) -> list[str] | None:
    """(state, ppid, pgrp, …) of a process, None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    fields = stat(pid)
    return fields is not None and fields[0] != "Z"


def survivors(pgid: int, pids: list[int]) -> list[str]:
    """Live processes of the server's group, the recorded pids, and its watchdog."""
    found = [f"recorded pid {pid}" for pid in pids if alive(pid)]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = stat(int(entry.name))
        if fields is None or fields[0] == "Z":
            continue
        if int(fields[2]) == pgid:
            found.append(f"group member {entry.name}")
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"watchdog" in cmd and str(pgid).encode() in cmd:
            found.append(f"watchdog {entry.name}")
    return found


def recorded(tmp_path: Path, timeout: float = 90) -> tuple[int, list[int]]:
    """(the server's group id, [background child, leader]) once the script has run and the
    level has begun."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids_file = tmp_path / "pids"
        levels = list((tmp_path / "out" / "orphans").glob("*/raw/level-01/*/benchmark_data.db"))
        if pids_file.exists() and len(pids_file.read_text().split()) == 2 and levels:
            pids = [int(x) for x in pids_file.read_text().split()]
            assert all(alive(pid) for pid in pids)
            return pids[1], pids
        time.sleep(0.2)
    raise AssertionError("the server script or the level did not start in time")


def gone_within(pgid: int, pids: list[int], seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := survivors(pgid, pids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_normal_end_leaves_no_process(tmp_path: Path) -> None:
    proc = start(tmp_path, scenario(tmp_path, number=2, decode=0.002))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    pids = [int(x) for x in (tmp_path / "pids").read_text().split()]
    # vlm-bench stops the group before it exits: nothing is left at this point already.
    assert survivors(pids[1], pids) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_leaves_no_process(tmp_path: Path, sig: signal.Signals) -> None:
    proc = start(tmp_path, scenario(tmp_path, number=50, decode=0.02))
    try:
        pgid, pids = recorded(tmp_path)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert survivors(pgid, pids) == []


def test_killed_vlm_bench_leaves_no_process(tmp_path: Path) -> None:
    """SIGKILL runs no teardown: the group's watchdog stops it (SIGTERM, then SIGKILL)."""
    proc = start(tmp_path, scenario(tmp_path, number=50, decode=0.02))
    try:
        pgid, pids = recorded(tmp_path)
    finally:
        proc.kill()
    proc.communicate(timeout=30)
    assert gone_within(pgid, pids, 30) == []
