"""Start and stop a simulator process for benchmark scripts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType


class SimProcess:
    """`vlm-bench sim` on a free loopback port, optionally pinned to one CPU."""

    def __init__(
        self,
        workdir: Path,
        profile: str,
        overrides: list[str] | None = None,
        cpu: int | None = None,
        extra: list[str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.trace = workdir / "trace.jsonl"
        self.port = 0
        port_file = workdir / "port"
        cmd = [
            sys.executable,
            "-m",
            "bench",
            "sim",
            "--profile",
            profile,
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--trace",
            str(self.trace),
        ]
        for item in overrides or []:
            cmd += ["--set", item]
        cmd += extra or []
        self._log = (workdir / "sim.log").open("wb")
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self.proc.pid, {cpu % (os.cpu_count() or 1)})
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError((workdir / "sim.log").read_text()[-2000:])
            time.sleep(0.02)
        self.port = int(port_file.read_text())

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cpu_seconds(self) -> float:
        """User + system CPU time of the simulator so far (from /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
