"""The typed, versioned result model: statuses decided once, version-1 runs upgraded,
run.json's JSON Schema, and the server's version taken from what the run recorded.

The version-1 samples are real: the shipped reference runs (reports/reference/, imported
tables) and tests/data/runs/v1-sim-quickstart (a quickstart run on the simulator, written
by vlm-bench before schema version 2). Their reports were rendered by that vlm-bench and
stored as tests/data/golden/report-v1-upgrade-*.md.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bench.cli import main
from bench.errors import UserError
from bench.report import release
from bench.schema import runfile
from bench.schema.incident import Incident
from bench.schema.results import (
    SCHEMA_VERSION,
    CheckStatus,
    Diagnostics,
    LevelStatus,
    RunStatus,
    decide_status,
    server_version,
)
from bench.schema.runfile import read_run
from bench.schema.runschema import run_json_schema
from bench.schema.runwrite import write_run
from bench.schema.upgrade import upgrade, v1_to_v2
from tests.support.factories import reference_json
from tests.support.golden import assert_golden
from tests.support.paths import REFERENCE, RUNS

V1_SIM = RUNS / "v1-sim-quickstart"
V1_RUNS = {
    "vllm-ascend-800ta2": REFERENCE / "vllm-ascend-800ta2",
    "xllm-800ta2": REFERENCE / "xllm-800ta2",
    "sim": V1_SIM,
}


def raw(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "run.json").read_text())
    return data


def test_the_samples_are_version_1() -> None:
    """Guards the tests below: they prove nothing if a sample was rewritten as version 2."""
    assert {raw(d)["schema_version"] for d in V1_RUNS.values()} == {1}
    assert SCHEMA_VERSION == 2


@pytest.mark.parametrize("name", sorted(V1_RUNS))
def test_a_version_1_run_renders_the_report_it_rendered_before(name: str, tmp_path: Path) -> None:
    """Acceptance 2 (Step 10): the shipped reference runs and a version-1 run keep loading,
    and their re-rendered reports equal the ones rendered before schema version 2."""
    shutil.copy(V1_RUNS[name] / "run.json", tmp_path / "run.json")
    assert main(["report", str(tmp_path)]) == 0
    assert_golden(f"report-v1-upgrade-{name}.md", (tmp_path / "report.md").read_text())


def test_upgrade_v1_to_v2_moves_extra_and_renames_checks() -> None:
    before = raw(V1_SIM)
    kept = copy.deepcopy(before)
    after = v1_to_v2(before)
    assert before == kept  # pure: the input is not changed
    assert after["schema_version"] == 2
    level = after["levels"][0]
    assert "extra" not in level
    assert level["diagnostics"] == before["levels"][0]["extra"]  # server_log_bytes
    assert [c["name"] for c in level["checks"]] == [
        c["check"] for c in before["levels"][0]["checks"]
    ]
    assert all("check" not in c for c in level["checks"])


def test_upgrade_drops_the_published_mark_the_provenance_holds() -> None:
    after = v1_to_v2(raw(REFERENCE / "xllm-800ta2"))
    assert all(level["diagnostics"] == {} for level in after["levels"])
    assert "published" in after["provenance"]


def test_upgrade_leaves_what_it_cannot_read_for_the_checks() -> None:
    """A malformed version-1 file is not "repaired" into a valid one: the reader still
    names the bad field."""
    assert v1_to_v2({"schema_version": 1, "levels": "all"})["levels"] == "all"
    odd = v1_to_v2({"schema_version": 1, "levels": [None, {"extra": [1], "checks": [3]}]})
    assert odd["levels"] == [None, {"diagnostics": [1], "checks": [3]}]
    for version in (99, True, "1", None):
        assert upgrade({"schema_version": version}, 2) == {"schema_version": version}


def test_a_version_1_run_written_again_is_version_2(tmp_path: Path) -> None:
    run = read_run(V1_SIM)
    write_run(run, tmp_path)
    again = raw(tmp_path)
    assert again["schema_version"] == 2
    assert again["levels"][0]["diagnostics"] == {"server_log_bytes": [142, 142]}
    assert read_run(tmp_path) == run


def test_a_level_status_is_decided_in_one_place() -> None:
    assert decide_status(0, cut_short=False) == LevelStatus.FAILED
    assert decide_status(0, cut_short=True) == LevelStatus.FAILED
    assert decide_status(3, cut_short=True) == LevelStatus.PARTIAL
    assert decide_status(3, cut_short=False) == LevelStatus.OK
    assert json.dumps([LevelStatus.PARTIAL, CheckStatus.NOT_APPLICABLE]) == '["partial", "n/a"]'


def test_every_diagnostics_field_round_trips_and_an_unknown_one_is_refused(
    tmp_path: Path,
) -> None:
    """The reader is the type: every Diagnostics field a file holds is read back, and a
    key Diagnostics lacks (it would be lost on reading) is refused with its path."""
    noted = {
        "server_log_bytes": [0, 10],
        "timed_out": 1,
        "request_timeout_s": 3.0,
        "recorded_requests": 4,
        "undefined": ["tpot_avg_s"],
        "summary_check": "ok",
        "summary_mismatch": "x",
        "percentile_check": "ok",
        "percentile_mismatch": "y",
        "repeats": 2,
        "warmup_tokens": 128,
        "workers": [
            {"worker": 1, "host": "h", "parallel": 2, "number": 4, "seed": 0, "rows": 4,
             "exit_code": 0, "cpu_mean": 0.5, "start_delay_s": 0.01, "clock_offset_s": 0.0}
        ],
    }  # fmt: skip
    assert set(noted) == {f.name for f in dataclasses.fields(Diagnostics)}
    data = runfile.check(reference_json(), Path("run.json")).to_dict()
    data["levels"][0]["diagnostics"] = noted
    assert runfile.check(data, Path("run.json")).to_dict()["levels"][0]["diagnostics"] == noted
    data["levels"][0]["diagnostics"] = {"new": 1}
    with pytest.raises(UserError, match=r"levels\[0\]\.diagnostics\.new: unknown field"):
        runfile.check(data, Path("run.json"))


def schema_checks(data: dict[str, Any]) -> None:
    jsonschema.validate(data, run_json_schema())


@pytest.mark.parametrize("name", sorted(V1_RUNS))
def test_the_json_schema_validates_real_runs(name: str, tmp_path: Path) -> None:
    write_run(read_run(V1_RUNS[name]), tmp_path)
    schema_checks(raw(tmp_path))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("levels", 0, "status"), "great"),
        (("levels", 0, "checks", 0, "status"), "bad"),
        (("levels", 0, "rps"), "fast"),
        (("scenario", "colour"), "red"),
        (("schema_version",), 1),
        (("status",), "done"),
    ],
)
def test_the_json_schema_refuses_a_corrupt_run(
    path: tuple[Any, ...], value: Any, tmp_path: Path
) -> None:
    write_run(read_run(V1_SIM), tmp_path)
    data = raw(tmp_path)
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        schema_checks(data)


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == run_json_schema()
    assert printed["properties"]["schema_version"]["const"] == SCHEMA_VERSION


def test_release_version_column_comes_from_the_servers_answer() -> None:
    """Regression (Step 10): the release table read provenance["server_version"], which
    nothing writes, so its Version column was always "—". A real run recorded the
    server's /version answer under provenance.server.version."""
    run = read_run(V1_SIM)
    assert server_version(run) == "0.1.0+sim"
    _, rows, _ = release.rows([run], ["version"])
    assert rows[0][0] == "0.1.0+sim"
    published = read_run(REFERENCE / "xllm-800ta2")  # an imported table: no server asked
    assert server_version(published) is None
    assert release.rows([published], ["version"])[1][0][0] == "—"
    assert run.status == RunStatus.COMPLETE


def test_incidents_and_the_scenario_are_typed_and_written_as_before(tmp_path: Path) -> None:
    """Step 10: incidents and the scenario were dicts read by key; they are typed now, and
    run.json keeps their JSON: an incident's fields in the order sweep wrote them, the
    ones its kind does not record left out."""
    died = {
        "at": "2026-11-28T10:00:00+00:00",
        "level": 2,
        "parallel": 4,
        "kind": "server died",
        "detail": "exiting",
        "level_reason": "server died",
        "restarted": True,
    }
    data = json.loads((RUNS / "sim-quickstart" / "run.json").read_text())
    data["incidents"] = [died]
    (tmp_path / "run.json").write_text(json.dumps(data))
    run = read_run(tmp_path)
    (incident,) = run.incidents
    assert isinstance(incident, Incident) and incident.restarted and incident.log_tail is None
    assert run.scenario.load.max_tokens == data["scenario"]["load"]["max_tokens"]
    written = run.to_dict()
    assert list(written["incidents"][0].items()) == list(died.items())
    assert written["scenario"] == data["scenario"]
