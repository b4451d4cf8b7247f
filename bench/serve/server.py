"""Server lifecycle: launch (simulator, command, container) or attach (external), wait until
ready, keep the log, and always tear down what was started.

Commands are argv lists, never shell strings. Launched servers run in their own process
group; teardown sends SIGINT, then SIGTERM, then SIGKILL to the whole group (vLLM's API
server, engine core and workers all go), and `docker stop`/`docker rm` for containers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from bench import imaging
from bench.errors import ServerError, UserError
from bench.proc import GENTLE, spawn, stop_group
from bench.redact import is_reference, resolve, resolve_all, resolve_map, secret_name
from bench.schema.scenario import Scenario
from bench.schema.scenario_server import CommandServer, DockerServer, ExternalServer, SimServer
from bench.serve.http import get, post_json

READY_POLL_S = 0.5
STOP_WAIT_S = 10.0


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


def docker_argv(spec: DockerServer, scenario_name: str) -> list[str]:
    """`docker run` for the scenario: devices, mounts, env, the port on host loopback."""
    name = spec.container_name or f"vlm-bench-{scenario_name}"
    argv = ["docker", "run", "--rm", "--name", name]
    for dev in spec.devices:
        argv += ["--device", dev]
    for vol in spec.volumes:
        argv += ["-v", vol]
    for key, value in spec.env.items():
        # A secret goes by name only: docker reads its value from its own environment
        # (the launcher's `env`), so it never shows in the process list.
        secret = secret_name(key) or is_reference(value)
        argv += ["-e", key if secret else f"{key}={value}"]
    if spec.shm_size:
        argv += ["--shm-size", spec.shm_size]
    argv += ["-p", f"{spec.host}:{spec.port}:{spec.port}", *spec.docker_args, spec.image]
    return [*argv, *spec.command()]


def server_argv(scenario: Scenario, tokenizer: str, run_dir: Path) -> list[str]:
    """What will be started for this scenario ([] for an external server)."""
    spec = scenario.server
    if isinstance(spec, SimServer):
        return sim_argv(
            spec,
            scenario.model.served_name,
            tokenizer,
            run_dir / "sim.port",
            run_dir / "sim-trace.jsonl",
        )
    if isinstance(spec, DockerServer):
        return docker_argv(spec, scenario.name)
    if isinstance(spec, CommandServer):
        return spec.command()
    return []


def base_url(scenario: Scenario) -> str:
    spec = scenario.server
    if isinstance(spec, ExternalServer):
        return spec.url
    return f"http://{spec.host}:{spec.port}"


def port_in_use(host: str, port: int) -> bool:
    """True when something listens there (connections lingering in TIME_WAIT after a
    previous server do not count: servers bind with SO_REUSEADDR, and so does this probe)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def request_headers(scenario: Scenario) -> dict[str, str]:
    """load.headers and load.api_key (as `Authorization: Bearer …`) for our own requests,
    `${env:NAME}` resolved now: the values live only in memory, never in a file."""
    load = scenario.load
    out = resolve_map(load.headers)
    if load.api_key is not None and not any(k.lower() == "authorization" for k in out):
        out["Authorization"] = f"Bearer {resolve(load.api_key)}"
    return out


@dataclass
class ServerHandle:
    """A started (or attached) server. Use as a context manager: exit always stops it."""

    scenario: Scenario
    argv: list[str]
    log_path: Path
    url: str
    proc: subprocess.Popen[bytes] | None = None
    container: str | None = None
    started_at: float = field(default_factory=time.monotonic)

    def log_offset(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_tail(self, lines: int = 5) -> str:
        if not self.log_path.exists():
            return "(no server output)"
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(line.strip() for line in text[-lines:]) or "(no server output)"

    def alive(self) -> bool:
        return self.proc is None or self.proc.poll() is None

    @property
    def headers(self) -> dict[str, str]:
        return request_headers(self.scenario)

    def _image_request(self, text: str, width: int, height: int, max_tokens: int) -> bytes:
        """A chat request with one flat-colour image."""
        image = imaging.data_url(imaging.plain_image(width, height))
        content = [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": image}},
        ]
        return json.dumps(
            {
                "model": self.scenario.model.served_name,
                "max_tokens": max_tokens,
                "ignore_eos": True,
                "messages": [{"role": "user", "content": content}],
            }
        ).encode()

    def wait_ready(self) -> float:
        """Seconds until the server answers: /health, the served name in /v1/models, then
        one multimodal request (a VLM backend may reject text-only ones, as xLLM's does)."""
        spec = self.scenario.server
        name = self.scenario.model.served_name
        deadline = self.started_at + spec.ready_timeout_s
        probe = self._image_request("Readiness probe: describe the image.", 64, 64, 1)
        stage = "/health"
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerError(
                    f"server exited with status {self.proc.returncode} before it "
                    f"was ready; last output: {self.log_tail()}"
                )
            try:
                if stage == "/v1/chat/completions":
                    left = max(1.0, deadline - time.monotonic())
                    status, body = post_json(
                        self.url + stage, probe, timeout=min(60, left), headers=self.headers
                    )
                    if status == 200:
                        return time.monotonic() - self.started_at
                    if 400 <= status < 500:
                        raise UserError(
                            f"{self.url}{stage} refused a one-image request (HTTP {status}): "
                            f"{body[:200].decode(errors='replace')}"
                        )
                else:
                    status, body = get(self.url + stage, headers=self.headers)
                if stage == "/health" and status == 200:
                    stage = "/v1/models"
                    continue
                if stage == "/v1/models" and status == 200:
                    served = [m.get("id") for m in json.loads(body).get("data", [])]
                    if name not in served:
                        raise UserError(
                            f"{self.url}/v1/models serves {served}, not model.served_name {name!r}"
                        )
                    stage = "/v1/chat/completions"
                    continue
            except (OSError, ValueError):  # no answer yet (see bench.serve.http), or not JSON
                pass
            if time.monotonic() > deadline:
                raise ServerError(
                    f"server not ready after {spec.ready_timeout_s:g} s "
                    f"(waiting for {stage}); last output: {self.log_tail()}"
                )
            time.sleep(READY_POLL_S)

    def warm_up(self, count: int) -> None:
        """`count` unmeasured chat requests, one image of the scenario's size each."""
        load = self.scenario.load
        body = self._image_request(
            "Warm-up: describe the image.", load.image_width, load.image_height, 16
        )
        for k in range(1, count + 1):
            status, answer = post_json(
                self.url + "/v1/chat/completions",
                body,
                timeout=load.request_timeout_s,
                headers=self.headers,
            )
            if status != 200:
                raise ServerError(
                    f"warm-up request {k} of {count} failed: HTTP {status}: {answer[:200]!r}"
                )

    def metrics_text(self) -> str | None:
        """GET /metrics (Prometheus text), or None where the server has none."""
        try:
            status, body = get(self.url + "/metrics", timeout=10, headers=self.headers)
        except OSError:
            return None
        return body.decode(errors="replace") if status == 200 else None

    def reset_caches(self) -> dict[str, int]:
        """POST vLLM's cache-reset routes; {route: status} (404 where a server lacks one)."""
        out = {}
        for route in ("/reset_prefix_cache", "/reset_mm_cache"):
            try:
                out[route] = post_json(self.url + route, b"", timeout=30, headers=self.headers)[0]
            except OSError:
                out[route] = 0
        return out

    def stop(self) -> None:
        """SIGINT, SIGTERM, SIGKILL to the process group until none of it is left, also
        after the leader has exited (bench.proc.stop_group); docker stop/rm for containers."""
        if self.container:
            for cmd in (
                ["docker", "stop", "-t", "10", self.container],
                ["docker", "rm", "-f", self.container],
            ):
                subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        if self.proc is not None:
            stop_group(self.proc, GENTLE)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start(scenario: Scenario, tokenizer: str, run_dir: Path) -> ServerHandle:
    """Launch the scenario's server (or attach to an external one); not yet ready."""
    spec = scenario.server
    log_path = run_dir / "server.log"
    argv = server_argv(scenario, tokenizer, run_dir)
    if isinstance(spec, ExternalServer):
        return ServerHandle(scenario, [], log_path, spec.url)
    if spec.port and port_in_use(spec.host, spec.port):
        raise UserError(
            f"server.port: {spec.host}:{spec.port} is already in use; stop what "
            "listens there or choose another port"
        )
    # `${env:NAME}` references are resolved here, at spawn, and only in what the child
    # gets; handle.argv keeps the references. server.log is the server's own output: what
    # it prints (a token it echoes) is beyond our control and is kept as it is.
    env = {**os.environ, **resolve_map(spec.env)}
    (run_dir / "sim.port").unlink(missing_ok=True)  # a restarted simulator picks a new port
    with log_path.open("ab") as fh:
        try:
            # The working directory is vlm-bench's: relative paths in a command mean what
            # they mean where the user typed it.
            proc = spawn(resolve_all(argv), fh, env=env)
        except FileNotFoundError:
            raise UserError(f"server command not found: {argv[0]!r}") from None
    handle = ServerHandle(
        scenario,
        argv,
        log_path,
        base_url(scenario),
        proc,
        container=argv[argv.index("--name") + 1] if isinstance(spec, DockerServer) else None,
    )
    if isinstance(spec, SimServer) and spec.port == 0:
        handle.url = f"http://{spec.host}:{_wait_port_file(handle, run_dir / 'sim.port')}"
    return handle


def _wait_port_file(handle: ServerHandle, port_file: Path) -> int:
    """The port a simulator on port 0 chose; the same errors as `wait_ready`."""
    timeout = handle.scenario.server.ready_timeout_s
    deadline = handle.started_at + timeout
    while not (port_file.exists() and port_file.read_text().strip()):
        if handle.proc is not None and handle.proc.poll() is not None:
            raise ServerError(
                f"server exited with status {handle.proc.returncode} before it "
                f"was ready; last output: {handle.log_tail()}"
            )
        if time.monotonic() > deadline:
            handle.stop()
            raise ServerError(
                f"server not ready after {timeout:g} s (not listening yet); "
                f"last output: {handle.log_tail()}"
            )
        time.sleep(0.05)
    return int(port_file.read_text())
