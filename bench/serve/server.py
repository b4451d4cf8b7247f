"""Server lifecycle, whatever the kind: launch (simulator, command, container) or attach
(external), wait until ready, keep the log, and always tear down what was started.

The kinds are bench/serve/kinds/, looked up by the scenario's `server.kind` in
bench/serve/registry.py; this module is what the rest of vlm-bench calls.
"""

from __future__ import annotations

from pathlib import Path

from bench.schema.scenario import Scenario
from bench.serve.kinds.base import ServerHandle, port_in_use, request_headers
from bench.serve.kinds.docker import docker_argv
from bench.serve.kinds.sim import sim_argv
from bench.serve.registry import kind_of

__all__ = [
    "ServerHandle",
    "base_url",
    "docker_argv",
    "port_in_use",
    "request_headers",
    "server_argv",
    "sim_argv",
    "start",
]


def server_argv(scenario: Scenario, tokenizer: str, run_dir: Path) -> list[str]:
    """What will be started for this scenario ([] for an external server)."""
    return kind_of(scenario).argv(scenario, tokenizer, run_dir)


def base_url(scenario: Scenario) -> str:
    """The server's base URL as the scenario gives it (a simulator on port 0: `:0`)."""
    return kind_of(scenario).url(scenario)


def start(scenario: Scenario, tokenizer: str, run_dir: Path) -> ServerHandle:
    """Launch the scenario's server (or attach to an external one); not yet ready."""
    return kind_of(scenario).start(scenario, tokenizer, run_dir)
