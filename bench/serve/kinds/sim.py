"""`server.kind: sim`: the reference simulator (`vlm-bench sim`) as a child process.

On port 0 it picks a free port and writes it to `RUN/sim.port`; the handle's URL is set
from that file before readiness is awaited.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import cast

from bench.errors import ServerError
from bench.schema.scenario import Scenario
from bench.schema.scenario_server import SimServer
from bench.serve.kinds.base import ServerHandle, ServerKind


def sim_argv(
    spec: SimServer, served_name: str, tokenizer: str, port_file: Path, trace: Path
) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "bench",
        "sim",
        "--profile",
        spec.profile,
        "--host",
        spec.host,
        "--port",
        str(spec.port),
        "--port-file",
        str(port_file),
        "--model",
        served_name,
        "--seed",
        str(spec.seed),
        "--tokenizer",
        tokenizer,
        "--trace",
        str(trace),
    ]
    if spec.time_scale is not None:
        argv += ["--time-scale", str(spec.time_scale)]
    return [*argv, *spec.args]


class SimKind(ServerKind):
    """The simulator: `vlm-bench sim` with the scenario's profile, seed and time scale."""

    name = "sim"

    def argv(self, scenario: Scenario, tokenizer: str, run_dir: Path) -> list[str]:
        spec = cast(SimServer, scenario.server)  # the registry gives it only its own kind
        return sim_argv(
            spec,
            scenario.model.served_name,
            tokenizer,
            run_dir / "sim.port",
            run_dir / "sim-trace.jsonl",
        )

    def start(self, scenario: Scenario, tokenizer: str, run_dir: Path) -> ServerHandle:
        (run_dir / "sim.port").unlink(missing_ok=True)  # a restarted simulator picks a new port
        return super().start(scenario, tokenizer, run_dir)

    def after_spawn(self, handle: ServerHandle, run_dir: Path) -> None:
        spec = handle.scenario.server
        if spec.port == 0:
            handle.url = f"http://{spec.host}:{_wait_port_file(handle, run_dir / 'sim.port')}"


def _wait_port_file(handle: ServerHandle, port_file: Path) -> int:
    """The port a simulator on port 0 chose; the same errors as readiness."""
    timeout = handle.scenario.server.ready_timeout_s
    deadline = handle.started_at + timeout
    while not (port_file.exists() and port_file.read_text().strip()):
        if (early := handle.exited_early()) is not None:
            raise early
        if time.monotonic() > deadline:
            handle.stop()
            raise ServerError(
                f"server not ready after {timeout:g} s (not listening yet); "
                f"last output: {handle.log_tail()}"
            )
        time.sleep(0.05)
    return int(port_file.read_text())
