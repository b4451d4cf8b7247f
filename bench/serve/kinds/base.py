"""What every server kind is: a `ServerKind` (start, wait ready, stop, describe) and the
`ServerHandle` it returns for a started (or attached) server.

A kind overrides only what differs from a launched command: its argv, its URL, a step
after the spawn (the simulator's chosen port), its stop (a container's `docker stop`) or
its announcement. What a kind can expose (simulator time, accelerators to sample,
calibration by default, started by vlm-bench) is its fields model's `capabilities`
(bench/schema/scenario_server.py), where reports of stored runs can ask it too.

Commands are argv lists, never shell strings. Launched servers run in their own process
group; teardown sends SIGINT, then SIGTERM, then SIGKILL to the whole group (vLLM's API
server, engine core and workers all go).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from bench import imaging
from bench.errors import ServerError, UserError
from bench.proc import GENTLE, spawn, stop_group
from bench.redact import resolve, resolve_all, resolve_map
from bench.schema.scenario import Scenario
from bench.serve.http import get, post_json

READY_POLL_S = 0.5


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


class ServerKind:
    """A launched command: the base every kind specialises (class attribute `name` is the
    scenario's `server.kind` it serves)."""

    name: ClassVar[str] = ""

    def argv(self, scenario: Scenario, tokenizer: str, run_dir: Path) -> list[str]:
        """What will be started for this scenario ([] when nothing is)."""
        return []

    def url(self, scenario: Scenario) -> str:
        spec = scenario.server
        return f"http://{spec.host}:{spec.port}"

    def start(self, scenario: Scenario, tokenizer: str, run_dir: Path) -> ServerHandle:
        """Launch the server (its own process group, output to server.log); not yet ready."""
        spec = scenario.server
        log_path = run_dir / "server.log"
        argv = self.argv(scenario, tokenizer, run_dir)
        if spec.port and port_in_use(spec.host, spec.port):
            raise UserError(
                f"server.port: {spec.host}:{spec.port} is already in use; stop what "
                "listens there or choose another port"
            )
        # `${env:NAME}` references are resolved here, at spawn, and only in what the child
        # gets; handle.argv keeps the references. server.log is the server's own output:
        # what it prints (a token it echoes) is beyond our control and is kept as it is.
        env = {**os.environ, **resolve_map(spec.env)}
        with log_path.open("ab") as fh:
            try:
                # The working directory is vlm-bench's: relative paths in a command mean
                # what they mean where the user typed it.
                proc = spawn(resolve_all(argv), fh, env=env)
            except FileNotFoundError:
                raise UserError(f"server command not found: {argv[0]!r}") from None
        handle = ServerHandle(scenario, argv, log_path, self.url(scenario), proc, kind=self)
        self.after_spawn(handle, run_dir)
        return handle

    def after_spawn(self, handle: ServerHandle, run_dir: Path) -> None:
        """A kind's step between the spawn and readiness (none for a plain command)."""

    def wait_ready(self, handle: ServerHandle) -> float:
        """Seconds until the server answers (see `ServerHandle.http_ready`)."""
        return handle.http_ready()

    def stop(self, handle: ServerHandle) -> None:
        """SIGINT, SIGTERM, SIGKILL to the process group until none of it is left, also
        after the leader has exited (bench.proc.stop_group)."""
        if handle.proc is not None:
            stop_group(handle.proc, GENTLE)

    def announce(self, handle: ServerHandle) -> str:
        """The console line while it starts."""
        return f"server ({self.name}) starting: {handle.url}"


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
    kind: ServerKind = field(default_factory=ServerKind)

    def log_offset(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_tail(self, lines: int = 5) -> str:
        if not self.log_path.exists():
            return "(no server output)"
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(line.strip() for line in text[-lines:]) or "(no server output)"

    def alive(self) -> bool:
        return self.proc is None or self.proc.poll() is None

    def announce(self) -> str:
        """`server (sim) starting: URL`, or `attaching to URL` for one it does not start."""
        return self.kind.announce(self)

    @property
    def headers(self) -> dict[str, str]:
        return request_headers(self.scenario)

    def exited_early(self) -> ServerError | None:
        """The error for a launched server that has exited before it was ready."""
        if self.proc is None or self.proc.poll() is None:
            return None
        return ServerError(
            f"server exited with status {self.proc.returncode} before it "
            f"was ready; last output: {self.log_tail()}"
        )

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
        """Seconds until the server answers, as its kind waits for it."""
        return self.kind.wait_ready(self)

    def http_ready(self) -> float:
        """Seconds until the server answers: /health, the served name in /v1/models, then
        one multimodal request (a VLM backend may reject text-only ones, as xLLM's does)."""
        spec = self.scenario.server
        deadline = self.started_at + spec.ready_timeout_s
        stage = "/health"
        while True:
            if (early := self.exited_early()) is not None:
                raise early
            try:
                passed, stage = stage, self._probe(stage, deadline)
                if stage == "ready":
                    return time.monotonic() - self.started_at
                if stage != passed:
                    continue  # on to the next stage at once
            except (OSError, ValueError):  # no answer yet (see bench.serve.http), or not JSON
                pass
            if time.monotonic() > deadline:
                raise ServerError(
                    f"server not ready after {spec.ready_timeout_s:g} s "
                    f"(waiting for {stage}); last output: {self.log_tail()}"
                )
            time.sleep(READY_POLL_S)

    def _probe(self, stage: str, deadline: float) -> str:
        """One readiness probe of `stage`; the next stage ("ready" after the last)."""
        name = self.scenario.model.served_name
        if stage == "/v1/chat/completions":
            probe = self._image_request("Readiness probe: describe the image.", 64, 64, 1)
            left = max(1.0, deadline - time.monotonic())
            status, body = post_json(
                self.url + stage, probe, timeout=min(60, left), headers=self.headers
            )
            if 400 <= status < 500:
                raise UserError(
                    f"{self.url}{stage} refused a one-image request (HTTP {status}): "
                    f"{body[:200].decode(errors='replace')}"
                )
            return "ready" if status == 200 else stage
        status, body = get(self.url + stage, headers=self.headers)
        if status != 200:
            return stage
        if stage == "/health":
            return "/v1/models"
        served = [m.get("id") for m in json.loads(body).get("data", [])]
        if name not in served:
            raise UserError(f"{self.url}/v1/models serves {served}, not model.served_name {name!r}")
        return "/v1/chat/completions"

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
        """Stop what was started, as its kind stops it (nothing for an attached server)."""
        self.kind.stop(self)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
