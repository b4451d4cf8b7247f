"""Step 16: runs of different workloads are never one comparison. The rule
(bench/analyze/compare.py `workload_section_difference`) on hand-made runs: the workload
fingerprint (the sources' content plus the shape) decides, the first differing setting is
named, a moved folder is the same workload; compare refuses (unless --force) and the gate
always; the scenario hash takes the fingerprint, and only for a `workload:` scenario."""

from __future__ import annotations

from typing import Any

import pytest

from bench.analyze.compare import workload_difference, workload_fingerprint
from bench.analyze.gate import gate
from bench.errors import UserError
from bench.measure import provenance
from bench.report.compare import compare
from bench.schema.results import RunResult
from bench.schema.scenario import scenario_hash
from bench.schema.views import WorkloadView
from tests.support.factories import level, run, small_scenario

PHOTOS: dict[str, Any] = {
    "source": {"kind": "images", "path": "examples/photos"},
    "sizes": [{"width": 640, "height": 640}],
    "images_per_request": 2,
    "reuse": 0.5,
}


def workload_run(run_id: str, fingerprint: str | None, **settings: Any) -> RunResult:
    """A run of `PHOTOS` (`settings` replaced) whose provenance holds `fingerprint`."""
    scenario = small_scenario(workload={**PHOTOS, **settings})
    prov = {"workload_fingerprint": fingerprint} if fingerprint else {}
    return run([level(1, 4)], run_id=run_id, scenario=scenario, provenance=prov)


def test_the_same_fingerprint_is_the_same_workload_wherever_the_files_lie() -> None:
    a = workload_run("a", "wl-1111")
    moved = workload_run("b", "wl-1111", source={"kind": "images", "path": "/elsewhere"})
    assert workload_difference([a, moved]) is None


def test_a_different_setting_is_named_with_both_fingerprints() -> None:
    a, b = workload_run("a", "wl-1111"), workload_run("b", "wl-2222", reuse=0.25)
    assert workload_difference([a, b]) == (
        "runs differ in workload.reuse: s a has 0.5, s b has 0.25 (workload wl-1111 vs wl-2222)"
    )


def test_the_same_settings_over_other_files_is_a_content_difference() -> None:
    a = workload_run("a", "wl-1111")
    b = workload_run("b", "wl-3333", source={"kind": "images", "path": "other/photos"})
    assert workload_difference([a, b]) == (
        "runs differ in workload content: the same settings over other source files "
        "(s a: wl-1111 from examples/photos, s b: wl-3333 from other/photos)"
    )


def test_a_workload_run_and_a_random_vl_run_differ() -> None:
    plain = run([level(1, 4)], run_id="p")
    why = workload_difference([plain, workload_run("w", "wl-1111")])
    assert why == (
        "runs differ in workload: s p sends load.dataset 'random_vl' (no workload: section), "
        "s w sends workload wl-1111 (images from examples/photos)"
    )


def test_runs_without_a_workload_section_are_unaffected() -> None:
    assert workload_difference([run([level(1, 4)]), run([level(1, 4)], run_id="q")]) is None


def test_a_fingerprint_only_on_the_levels_still_counts() -> None:
    """A run measured before provenance kept the fingerprint has it on its levels."""
    a, b = workload_run("a", None), workload_run("b", None)
    a.levels[0].workload = WorkloadView(fingerprint="wl-1111")
    b.levels[0].workload = WorkloadView(fingerprint="wl-4444")
    assert workload_fingerprint(a) == "wl-1111"
    assert workload_difference([a, b]) == (
        "runs differ in workload content: the same settings over other source files "
        "(s a: wl-1111 from examples/photos, s b: wl-4444 from examples/photos)"
    )


def test_unknown_fingerprints_with_equal_settings_are_no_difference() -> None:
    assert workload_difference([workload_run("a", None), workload_run("b", "wl-1111")]) is None


def test_compare_refuses_unless_forced_and_the_gate_always() -> None:
    a, b = workload_run("a", "wl-1111"), workload_run("b", "wl-2222", reuse=0.25)
    with pytest.raises(UserError, match=r"workload\.reuse.*\(--force compares anyway\)$"):
        compare([a, b])
    assert compare([a, b], force=True).levels == [(1, None)]
    with pytest.raises(UserError, match=r"^cannot gate: runs differ in workload\.reuse"):
        gate(a, b, {}, allow_mismatch=True)


def test_the_scenario_hash_takes_the_fingerprint_only_with_a_workload() -> None:
    plain = small_scenario()
    assert scenario_hash(plain, "wl-1111") == scenario_hash(plain)
    photos = small_scenario(workload=PHOTOS)
    assert scenario_hash(photos, "wl-1111") != scenario_hash(photos, "wl-2222")
    assert scenario_hash(photos, "wl-1111") != scenario_hash(photos)


def test_provenance_records_the_fingerprint_only_for_a_workload() -> None:
    assert provenance.workload_of(small_scenario()) is None
    assert "workload_fingerprint" not in provenance.collect([], {})
    got = provenance.workload_of(small_scenario(workload=PHOTOS))
    assert got is not None and got.startswith("wl-")
    assert provenance.collect([], {}, got)["workload_fingerprint"] == got
