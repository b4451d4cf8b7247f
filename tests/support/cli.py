"""The two ways tests run the command line: in-process and as a real subprocess.

In-process (`run_cli`) is for unit tests: no process starts, output is captured. The
subprocess runners are for integration tests, where the exit status, signals and stray
child processes are what is tested.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli import main


def run_cli(capsys: pytest.CaptureFixture[str] | None, *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `vlm-bench ARGV` run in this process.

    capsys None captures by redirection: for hypothesis tests, where a function-scoped
    fixture is shared by all examples.
    """
    if capsys is None:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
        return code, out.getvalue(), err.getvalue()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def last_error(capsys: pytest.CaptureFixture[str] | None, *argv: str) -> tuple[int, str]:
    """(exit code, last line of stderr) of `vlm-bench ARGV` in this process: the line a
    user error ends in."""
    code, _, err = run_cli(capsys, *argv)
    lines = err.strip().splitlines()
    return code, lines[-1] if lines else ""


def assert_one_line(code: int, err: str, names: str) -> None:
    """Exit 2 with exactly one `vlm-bench: error:` line naming `names`, no traceback."""
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("vlm-bench: error: "), err
    assert names in lines[0], err
    assert "Traceback" not in err


def _argv(argv: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "bench", *argv]


def vlm_bench(
    *argv: str,
    cwd: Path | None = None,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `vlm-bench ARGV` to the end as a subprocess, output captured as text."""
    return subprocess.run(
        _argv(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else os.environ.copy(),
        cwd=cwd,
    )


def start_vlm_bench(
    *argv: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start `vlm-bench ARGV` in the background; the caller waits, signals or kills it.

    SIGINT is restored to its default as at a terminal: tests run as a background job start
    with SIGINT ignored, and Python would keep it ignored, so Ctrl-C tests would hang.
    """
    return subprocess.Popen(
        _argv(argv),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )
