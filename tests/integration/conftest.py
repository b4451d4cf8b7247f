"""A real simulator process on a free loopback port, always stopped after the test.

`sim` / `sim_factory` give each test a simulator of its own. `shared_sim` and
`module_sim_factory` start one per test module, for tests that only read it: they neither
count its trace or /metrics, nor stop, stall or kill it (a simulator start is a process and
an import of the whole CLI, ~2 s; Step 17 acceptance 6 shares them where tests only read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.sim import Sim

SimFactory = Callable[..., Sim]


def _factory(root: Path) -> tuple[SimFactory, list[Sim]]:
    """A factory that starts simulators under `root`, and the list of those started."""
    started: list[Sim] = []
    counter = iter(range(1000))

    def factory(*args: str, port: int = 0, wait: bool = True) -> Sim:
        d = root / f"sim{next(counter)}"
        d.mkdir()
        sim = Sim(d, args, port=port, wait=wait)
        started.append(sim)
        return sim

    return factory, started


def _stop_all(started: list[Sim]) -> None:
    for sim in started:
        sim.stop()
        assert sim.proc.poll() is not None, "simulator outlived its test"


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[SimFactory]:
    """Start simulators with extra CLI flags; every one is stopped at teardown."""
    factory, started = _factory(tmp_path)
    yield factory
    _stop_all(started)


@pytest.fixture
def sim(sim_factory: SimFactory) -> Sim:
    return sim_factory()


@pytest.fixture(scope="module")
def module_sim_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimFactory]:
    """As `sim_factory`, for the module: what it starts is stopped after the module's last
    test. Only for simulators that tests read (see the module docstring)."""
    factory, started = _factory(tmp_path_factory.mktemp("module-sims"))
    yield factory
    _stop_all(started)


@pytest.fixture(scope="module")
def shared_sim(module_sim_factory: SimFactory) -> Sim:
    """One default simulator for the module's read-only tests."""
    return module_sim_factory()
