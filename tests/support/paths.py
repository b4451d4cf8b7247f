"""Where the test suite's inputs live: the checkout, shipped runs, stored runs, goldens."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reports" / "reference"
SCENARIOS = ROOT / "scenarios"
DATA = ROOT / "tests" / "data"
GOLDEN = DATA / "golden"
RUNS = DATA / "runs"
# Stored `workload:` runs (Step 16), apart from RUNS: tests that index or draw every run of
# RUNS count them.
WORKLOAD_RUNS = DATA / "workload-runs"
