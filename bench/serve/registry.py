"""The server kinds, looked up by the scenario's `server.kind`: each registered once here.

A new kind is its fields model in the `Server` union (bench/schema/scenario_server.py),
one module under bench/serve/kinds/ with a `ServerKind` subclass, and one `register` line
below (a test may register a kind of its own the same way).
"""

from __future__ import annotations

from bench.errors import UserError
from bench.schema.scenario import Scenario
from bench.serve.kinds.base import ServerKind
from bench.serve.kinds.command import CommandKind
from bench.serve.kinds.docker import DockerKind
from bench.serve.kinds.external import ExternalKind
from bench.serve.kinds.sim import SimKind

KINDS: dict[str, ServerKind] = {}


def register(kind: ServerKind) -> ServerKind:
    """Make `kind` the one that serves scenarios whose `server.kind` is `kind.name`."""
    if not kind.name:
        raise ValueError(f"{type(kind).__name__} has no name")
    KINDS[kind.name] = kind
    return kind


def kind_of(scenario: Scenario) -> ServerKind:
    """The registered kind of the scenario's server."""
    name = scenario.server.kind
    try:
        return KINDS[name]
    except KeyError:
        raise UserError(
            f"server.kind: no server kind {name!r} is registered; known: {', '.join(KINDS)}"
        ) from None


register(SimKind())
register(CommandKind())
register(DockerKind())
register(ExternalKind())
