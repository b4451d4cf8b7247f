"""A real simulator process on a free loopback port, always stopped after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.sim import Sim


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[Callable[..., Sim]]:
    """Start simulators with extra CLI flags; every one is stopped at teardown."""
    started: list[Sim] = []
    counter = iter(range(1000))

    def factory(*args: str, port: int = 0, wait: bool = True) -> Sim:
        d = tmp_path / f"sim{next(counter)}"
        d.mkdir()
        sim = Sim(d, args, port=port, wait=wait)
        started.append(sim)
        return sim

    yield factory
    for sim in started:
        sim.stop()
        assert sim.proc.poll() is not None, "simulator outlived its test"


@pytest.fixture
def sim(sim_factory: Callable[..., Sim]) -> Sim:
    return sim_factory()
