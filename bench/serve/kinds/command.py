"""`server.kind: command`: any server started by an argv (or `vllm: {model, args}`)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from bench.schema.scenario import Scenario
from bench.schema.scenario_server import CommandServer
from bench.serve.kinds.base import ServerKind


class CommandKind(ServerKind):
    """The scenario's command, run as vlm-bench's child in its own process group."""

    name = "command"

    def argv(self, scenario: Scenario, tokenizer: str, run_dir: Path) -> list[str]:
        spec = cast(CommandServer, scenario.server)  # the registry gives it only its own kind
        return spec.command()
