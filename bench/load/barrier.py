"""The start barrier of a level split across load workers (docs/workers.md).

Each worker is an evalscope child (`python -m bench.load.evalscope perf …`) started with
`BARRIER_ENV` naming a folder of its own. Once evalscope has done its start-up (imports,
tokenizer, HTTP client) and is about to send its first request, the child writes
`ready.json` and waits for `go.json`, which holds one wall-clock start time shared by
every worker; it sleeps until then, writes `released.json` and starts. At exit it writes
`end.json`. Each file is a `stamp()`: wall clock, perf_counter and CPU seconds at that
moment, so the parent can compute the worker's start delay, its CPU use over the level
and the offset between its perf_counter clock (evalscope's request times) and the run's.

Files, not pipes: a Ray actor on another host runs the same child and reads the same
files locally; only `go.json`'s time crosses hosts.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

BARRIER_ENV = "VLM_BENCH_BARRIER"
READY, GO, RELEASED, END = "ready.json", "go.json", "released.json", "end.json"
WAIT_LIMIT_S = 900.0  # a parent that never releases: the child gives up
POLL_S = 0.002
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str:
    """This boot's id: two processes with the same one share CLOCK_MONOTONIC, which is
    perf_counter's clock on Linux, so their request times need no offset."""
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def stamp() -> dict[str, Any]:
    """Now, on every clock the parent needs (CPU: this process and its reaped children)."""
    t = os.times()
    return {
        "wall": time.time(),
        "perf": time.perf_counter(),
        "cpu": t.user + t.system + t.children_user + t.children_system,
        "host": socket.gethostname(),
        "boot_id": boot_id(),
        "pid": os.getpid(),
    }


def _write(path: Path, data: dict[str, Any]) -> None:
    """Whole or not at all: the reader polls for the file's name."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def read(folder: Path, name: str) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / name).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


async def wait_released(folder: Path) -> None:
    """The child's side: say ready, wait for the start time, wait until it, say released."""
    _write(folder / READY, stamp())
    deadline = time.monotonic() + WAIT_LIMIT_S
    while (go := read(folder, GO)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no start from the parent in {WAIT_LIMIT_S:g} s")
        await asyncio.sleep(POLL_S)
    remaining = float(go["start_at"]) - time.time()
    if remaining > 0:
        await asyncio.sleep(remaining)
    _write(folder / RELEASED, stamp())


def write_end(folder: Path) -> None:
    """The child's side, at exit."""
    _write(folder / END, stamp())


def release(folder: Path, start_at: float) -> None:
    """The parent's side: start at wall-clock time `start_at`."""
    _write(folder / GO, {"start_at": start_at})


def is_ready(folder: Path) -> bool:
    return (folder / READY).exists()


def report(folder: Path) -> dict[str, Any]:
    """Every stamp the child wrote, by name (ready, released, end)."""
    out = {}
    for name in (READY, RELEASED, END):
        if (data := read(folder, name)) is not None:
            out[name.removesuffix(".json")] = data
    return out
