"""The simulator as a child process on loopback, for tests and benchmark scripts.

(Scenario runs start it through `bench.serve.server`, like any other server.)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import TracebackType

from bench.proc import spawn, stop_group


class SimProcess:
    """`vlm-bench sim ARGS` with a trace, on a free port unless `port` is given.

    With `wait`, returns once the port file shows it listening. Always stop it (or use
    it as a context manager): SIGTERM to its process group, then SIGKILL.
    """

    def __init__(
        self,
        workdir: Path,
        args: list[str] | tuple[str, ...] = (),
        port: int = 0,
        wait: bool = True,
        cpu: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.trace = workdir / "trace.jsonl"
        self.log = workdir / "sim.log"
        self.port = port
        self._port_file = workdir / "port"
        cmd = [
            sys.executable,
            "-m",
            "bench",
            "sim",
            "--port",
            str(port),
            "--port-file",
            str(self._port_file),
            "--trace",
            str(self.trace),
            *args,
        ]
        with self.log.open("wb") as fh:
            self.proc = spawn(cmd, fh)
        if cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self.proc.pid, {cpu % (os.cpu_count() or 1)})
        if wait:
            self.wait_listening()

    def wait_listening(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not (self._port_file.exists() and self._port_file.read_text()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"simulator did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.02)
        self.port = int(self._port_file.read_text())

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cpu_seconds(self) -> float:
        """User + system CPU time of the simulator so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        stop_group(self.proc)

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
