"""A fleet plan (`vlm-bench fleet PLAN.yaml`, docs/fleet.md): which scenarios run on which
nodes of a Ray cluster.

    address: auto                  # ray.init address (auto, HOST:PORT, ray://HOST:PORT)
    output_dir: reports            # the driver's; run folders come back here
    scenarios: [a.yaml, b.yaml]    # each on every entry of nodes ...
    nodes: [{NPU-910B: 1}]         # ... Ray resources a node must offer (default: any)
    runs:                          # and/or pairs of one scenario and one node
      - {scenario: c.yaml, resources: {node_b: 1}}

Scenario paths are relative to the plan's folder; each is loaded and checked here, so a
bad plan or scenario fails before anything is placed (one line, exit 2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, PositiveFloat, ValidationError

from bench import redact
from bench.config.scenario import load_scenario
from bench.errors import UserError, describe_validation_error
from bench.safeyaml import load_file
from bench.schema.scenario import Scenario
from bench.schema.scenario_base import Strict

_ANY: dict[str, float] = {}  # a node with no particular resource


class FleetRun(Strict):
    scenario: str = Field(min_length=1, description="scenario file, relative to the plan")
    resources: dict[str, PositiveFloat] = Field(default_factory=dict)


class FleetPlan(Strict):
    address: str = Field("auto", min_length=1, description="the Ray cluster (ray.init address)")
    output_dir: str = Field("reports", min_length=1, description="where run folders come back")
    shared_dir: bool = Field(
        False, description="output_dir is shared storage every node writes to directly"
    )
    num_cpus: PositiveFloat = Field(1.0, description="CPUs one sweep holds on its node")
    scenarios: list[str] = Field(default_factory=list)
    nodes: list[dict[str, PositiveFloat]] = Field(default_factory=lambda: [_ANY], min_length=1)
    runs: list[FleetRun] = Field(default_factory=list)


@dataclass(frozen=True)
class FleetTask:
    """One sweep of the fleet: its scenario on a node offering `resources`."""

    key: str  # stable across re-runs: the state file's key
    source: Path
    scenario: Scenario
    resources: dict[str, float]


def load_plan(path: Path) -> tuple[FleetPlan, list[FleetTask]]:
    """The plan and its tasks (scenarios × nodes, then runs); UserError naming the file and
    field of the first problem."""
    data = load_file(path, "fleet plan")
    # The address may hold a password (ray://u:PW@head): every sink scrubs it from here on.
    redact.declare(redact.secrets_in(data))
    try:
        plan = FleetPlan.model_validate(data)
    except ValidationError as exc:
        raise UserError(describe_validation_error(path, exc, FleetPlan)) from None
    pairs = [(f"scenarios[{i}]", s, n) for i, s in enumerate(plan.scenarios) for n in plan.nodes]
    pairs += [(f"runs[{i}].scenario", r.scenario, r.resources) for i, r in enumerate(plan.runs)]
    if not pairs:
        raise UserError(f"{path}: scenarios: the plan names no scenario (scenarios or runs)")
    tasks = []
    for field, name, resources in pairs:
        source = path.parent / name
        if not source.is_file():
            raise UserError(f"{path}: {field}: {name}: no such file")
        key = f"{name}@{json.dumps(resources, sort_keys=True)}"
        tasks.append(FleetTask(key, source, load_scenario(source), dict(resources)))
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise UserError(f"{path}: runs: {twice} is planned twice")
    return plan, tasks
