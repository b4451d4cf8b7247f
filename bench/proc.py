"""Children we own: started in their own process group, stopped group-wide, escalating."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

GENTLE = ((signal.SIGINT, 10.0), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0))
FIRM = ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0))


def stop_group(proc: subprocess.Popen[bytes], steps: Sequence[tuple[int, float]] = FIRM) -> None:
    """Send each signal to the child's process group in turn, waiting after each.

    The child must have been started with `start_new_session=True` (its own group), so
    the signals reach everything it started and nothing else.
    """
    for sig, wait in steps:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue


def _prepare_child() -> None:  # pragma: no cover - runs in the child before exec
    """Make SIGINT work in the child (a background shell starts jobs with it ignored, and
    teardown begins with SIGINT), and on Linux SIGTERM the child when the process that
    started it dies, even by SIGKILL."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(
    argv: list[str], log: IO[bytes], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a child we own, output to `log`: in its own process group (so teardown reaches
    everything it starts), and on Linux terminated if vlm-bench itself is killed."""
    return subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_prepare_child,
    )
