"""`server.kind: external`: a server already running at a URL. vlm-bench attaches to it:
nothing is started, and nothing is stopped at the end."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from bench.schema.scenario import Scenario
from bench.schema.scenario_server import ExternalServer
from bench.serve.kinds.base import ServerHandle, ServerKind


class ExternalKind(ServerKind):
    """Attach to `server.url`; readiness is awaited as for any other server."""

    name = "external"

    def url(self, scenario: Scenario) -> str:
        spec = cast(ExternalServer, scenario.server)  # the registry gives it only its own kind
        return spec.url

    def start(self, scenario: Scenario, tokenizer: str, run_dir: Path) -> ServerHandle:
        return ServerHandle(scenario, [], run_dir / "server.log", self.url(scenario), kind=self)

    def announce(self, handle: ServerHandle) -> str:
        return f"attaching to the server at {handle.url} (already running; not started here)"
