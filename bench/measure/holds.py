"""Hold points: named moments of a run where a test can stop it, deterministically.

With `VLM_BENCH_TEST_HOLD=POINT:FILE` in its environment, a run that reaches POINT writes
POINT into FILE and waits there, up to HOLD_S, for the signal the test then sends
(SIGINT or SIGTERM, which end the wait as they end any other moment of the run). So a test
interrupts a real run at a chosen moment without guessing how long the moments before it
take. Without the variable (every real run) `hold` returns at once.

The points: `calibrating` (the client self-calibration's simulator is up, its requests
about to be sent), `warming-up` (the server is ready, its warm-up requests about to be
sent), `between-levels` (a level is committed to run.json, the next not begun) and
`report` (run.json is written, the report's plots are, report.md is not yet).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "VLM_BENCH_TEST_HOLD"
HOLD_S = 120.0  # a test that never signals costs this, then the run goes on
POINTS = ("calibrating", "warming-up", "between-levels", "report")


def hold(point: str) -> None:
    """Wait at `point` if the environment asks for it (see the module's docstring)."""
    name, _, marker = os.environ.get(ENV, "").partition(":")
    if name != point or not marker:
        return
    Path(marker).write_text(point)
    deadline = time.monotonic() + HOLD_S
    while time.monotonic() < deadline:
        time.sleep(0.05)  # a signal's KeyboardInterrupt ends the wait here
