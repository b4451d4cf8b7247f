"""Server kinds are a registry (bench/serve/registry.py): a new kind is one `ServerKind`
class plus one `register` call, and the run's server start, readiness, level and stop go
through it. Here a throwaway kind launches the simulator under another name (its own
`vlm-bench sim` argv, with an extra flag to show its argv is the one run)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from rich.console import Console
from rich.progress import Progress

from bench.errors import UserError
from bench.load.plan import plan_level
from bench.measure import level, lifecycle
from bench.measure.prepare import resolve_tokenizer
from bench.schema.plan import SweepLevel
from bench.schema.provenance import Provenance
from bench.schema.results import RunResult
from bench.schema.scenario import Scenario
from bench.schema.scenario_server import SimServer
from bench.serve import registry, server
from bench.serve.kinds.base import ServerHandle
from bench.serve.kinds.sim import SimKind
from tests.support.factories import small_scenario

pytestmark = pytest.mark.integration


# --- the throwaway kind: its fields model, its module's class, its registration ---------


class RenamedSimServer(SimServer):
    """Its fields: the simulator's (a real kind adds its model to the `Server` union)."""

    kind: Literal["renamed-sim"]  # type: ignore[assignment]


class RenamedSimKind(SimKind):
    """The simulator launched by a kind of another name, its argv marked."""

    name = "renamed-sim"

    def __init__(self) -> None:
        self.started: list[list[str]] = []
        self.stopped: list[ServerHandle] = []

    def argv(self, scenario: Scenario, tokenizer: str, run_dir: Path) -> list[str]:
        return [*super().argv(scenario, tokenizer, run_dir), "--ready-delay", "0"]

    def start(self, scenario: Scenario, tokenizer: str, run_dir: Path) -> ServerHandle:
        handle = super().start(scenario, tokenizer, run_dir)
        self.started.append(handle.argv)
        return handle

    def stop(self, handle: ServerHandle) -> None:
        self.stopped.append(handle)
        super().stop(handle)


@pytest.fixture
def renamed() -> Iterator[RenamedSimKind]:
    kind = registry.register(RenamedSimKind())  # the one registration
    yield kind
    registry.KINDS.pop(kind.name)


def test_a_registered_kind_runs_a_level(renamed: RenamedSimKind, tmp_path: Path) -> None:
    base = small_scenario(
        model={"served_name": "renamed-model", "tokenizer_path": "generated"},
        load={"image_width": 64, "image_height": 64, "min_tokens": 8, "max_tokens": 8},
    )
    spec = RenamedSimServer(kind="renamed-sim", profile="fast", ready_timeout_s=60)
    scenario = base.model_copy(update={"server": spec})
    tokenizer = resolve_tokenizer(scenario)
    result = RunResult("r", scenario.name, scenario, "hash", Provenance())
    console = Console(stderr=True)
    with lifecycle.start_ready(scenario, tokenizer, tmp_path, result, console) as handle:
        assert handle.kind is renamed and handle.announce().startswith("server (renamed-sim)")
        with Progress(console=console) as progress:
            plan = plan_level(scenario, tmp_path, SweepLevel(1, 1, 1, 2))
            measured = level.measure(scenario, handle, tokenizer, plan, progress)
    assert measured.succeeded == 2 and measured.rps > 0
    [argv] = renamed.started
    assert argv[-2:] == ["--ready-delay", "0"] and "renamed-model" in argv
    assert renamed.stopped == [handle] and not handle.alive()
    # The capabilities come with its fields (the simulator's): nothing else asked its kind.
    assert scenario.server.capabilities.simulator


def test_an_unregistered_kind_is_one_line(tmp_path: Path) -> None:
    """A fields model without a registered kind: a one-line error, not a KeyError."""
    spec = RenamedSimServer(kind="renamed-sim")
    scenario = small_scenario().model_copy(update={"server": spec})
    with pytest.raises(UserError, match="no server kind 'renamed-sim' is registered"):
        server.start(scenario, "generated", tmp_path)
