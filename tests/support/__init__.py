"""Shared helpers for the test suite; test modules import from here, never from each other.

How to add a test
-----------------
* Pure logic, no processes, no sockets: `tests/unit/test_<topic>.py`. Call the command line
  in-process with `tests.support.cli.run_cli(capsys, "compare", a, b)` and build results with
  `tests.support.factories` (`level(...)`, `run(...)`, `reference(name)`, `stored(name)`),
  so a change of the result model is adapted in one place.
* Real processes on loopback: `tests/integration/test_<topic>.py` with
  `pytestmark = pytest.mark.integration`. Start `vlm-bench` with `tests.support.cli.vlm_bench`
  (waits) or `start_vlm_bench` (background, Ctrl-C-able); start the simulator with the
  `sim` / `sim_factory` fixtures of tests/integration/conftest.py (`tests.support.sim`);
  a run with one simulator fault switched on with `tests.support.faults` (`write`, `run`).
* Test modules never import each other or a conftest, and unit tests start no process:
  tests/unit/test_suite_layout.py fails otherwise.
* A regression test's docstring names the bug it pins.

Golden files
------------
Expected output of every renderer lives in `tests/data/golden/` and is compared with
`tests.support.golden.assert_golden(name, text)`. Regenerate on purpose only, then read the
diff before committing it:

    VLM_BENCH_REGENERATE_GOLDEN=1 .venv/bin/pytest tests/unit -k "golden or compare or gate"
    git diff tests/data/golden/

Goldens are rendered from stored runs only: the shipped reference runs (`reports/reference/`)
and small simulator runs under `tests/data/runs/` (see the README there).
"""
