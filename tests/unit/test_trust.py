"""How many levels a run's validity checks trust, said once for the console, the --json
summary and an interrupted run's last line (Step 17), and the hold points a test stops a
run at (bench/measure/holds.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.analyze import validity
from bench.measure import holds
from bench.report.console import trusted_line
from bench.report.summary import run_summary
from bench.schema.results import Check, CheckStatus, LevelResult
from tests.support import factories


def judged(parallel: int, *flagged: str) -> LevelResult:
    """A level whose checks pass, bar the `flagged` ones."""
    checks = [Check("success", CheckStatus.OK, "all")]
    checks += [Check(name, CheckStatus.FLAG, "detail") for name in flagged]
    return factories.level(parallel, succeeded=4 * parallel, checks=checks)


def test_the_line_counts_trusted_levels_and_says_why_not_the_others() -> None:
    levels = [judged(1), judged(2), judged(4), judged(8)]
    levels += [judged(16, "client error"), judged(32, "client error", "mm cache")]
    assert trusted_line(levels) == (
        "4 of 6 levels trusted; 2 flagged: the client added more than its tolerance to TTFT "
        "(conc 16, 32); images were answered from the server's cache (conc 32)"
    )
    assert trusted_line(levels[:1]) == "1 of 1 level trusted"


def test_levels_without_checks_say_nothing() -> None:
    """A published table's levels carry no checks: no claim either way."""
    plain = [factories.level(1, succeeded=4), factories.level(2, succeeded=8)]
    assert validity.trust(plain) is None
    assert trusted_line(plain) == ""
    assert "trust" not in run_summary(factories.run(plain), Path("r"))


def test_the_json_summary_carries_the_counts_and_the_line() -> None:
    run = factories.run([judged(1), judged(2, "concurrency")])
    assert run_summary(run, Path("r"))["trust"] == {
        "judged": 2,
        "trusted": 1,
        "flagged": {"concurrency": [2]},
        "line": "1 of 2 levels trusted; 1 flagged: the target concurrency was not held (conc 2)",
    }


def test_a_hold_point_not_asked_for_returns_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "held"
    monkeypatch.setenv(holds.ENV, f"report:{marker}")
    holds.hold("calibrating")
    assert not marker.exists()
    monkeypatch.delenv(holds.ENV)
    holds.hold("report")
    assert not marker.exists()
