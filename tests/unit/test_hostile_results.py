"""Hostile result files, published tables and names: exit 2 with one line, never a traceback.

Pins the Step 9 bugs: valid-JSON-but-wrong-shape run.json files (levels not a list, null
figures, checks without keys, provenance not a mapping, NaN/Infinity tokens, …) gave
tracebacks in report, compare, gate, release-table and run --resume; `gate` said PASS
for a NaN RPS (published tables, names and output paths: test_hostile_tables.py). Every
case starts from a shipped run (reports/reference/) and
corrupts one thing, so the untouched file is known to pass (`test_the_untouched_runs_pass`).
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.analyze import gate
from bench.cli import main
from bench.report import plots
from bench.report.gate import render as render_gate
from bench.schema.runfile import read_run
from tests.support.cli import assert_one_line, run_cli
from tests.support.factories import reference_json as reference
from tests.support.factories import write_json
from tests.support.paths import REFERENCE

REF = REFERENCE / "vllm-ascend-800ta2"
RAW = "@@raw@@"  # a string value replaced by raw JSON text after dumping


def measured() -> dict[str, Any]:
    """The reference run dressed as a measured one: provenance, checks, server and client
    views, an incident, an answer check and an offline result (all the blocks a report
    reads)."""
    data = reference()
    data["run_id"] = "20261127-060000-aaaa"
    data["schema_version"] = 2  # written in version 2's shape
    data["provenance"] = {
        "host": "h",
        "cpu": "c",
        "cpu_count": 2,
        "packages": {"evalscope": "1.0", "vlm-bench": "0.1"},
        "git": {"commit": "0123456789abcdef", "dirty": False},
        "server_argv": ["vllm", "serve"],
        "started_at": "2026-11-27T06:00:00+00:00",
        "ended_at": "2026-11-27T07:00:00+00:00",
    }
    for level in data["levels"]:
        level["diagnostics"] = {"recorded_requests": 4}
        level["checks"] = [{"name": "concurrency", "status": "ok", "detail": "fine"}]
        level["server"] = {"in_flight_median": 1.0, "ttft_avg_s": 0.5, "ttft_requests": 4}
        level["client"] = {"start_delay_p90_s": 0.001}
    data["incidents"] = [{"at": "t", "parallel": 2, "kind": "server died", "detail": "x"}]
    data["check"] = {
        "mode": "warn",
        "summary": "valid",
        "latency_s": 1.0,
        "verdict": {"warnings": []},
    }
    data["offline"] = {
        "requests": 4,
        "max_tokens": 512,
        "rps": 1.0,
        "output_tok_s": 512.0,
        "generate_s": 4.0,
        "init_s": 10.0,
        "wrong_length": 0,
        "output_tokens_min": 512,
        "output_tokens_max": 512,
        "vllm_version": "0.10.0",
    }
    return data


def dump(data: Any, raw: str = "") -> str:
    return json.dumps(data, indent=1).replace(f'"{RAW}"', raw)


def write(folder: Path, data: Any, raw: str = "") -> Path:
    return write_json(folder, dump(data, raw))


# ---- run.json corruptions: (id, mutate(data) -> raw text for RAW, expected words) ----------

Mutation = Callable[[dict[str, Any]], str]


def setter(path: str, value: Any, raw: str = "") -> Mutation:
    """Set a dotted path (`levels.2.rps`) to `value` (RAW: replaced by `raw` text)."""

    def mutate(data: dict[str, Any]) -> str:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
        return raw

    return mutate


def remover(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> str:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]
        return ""

    return mutate


CORRUPTIONS: list[tuple[str, Mutation, str]] = []
for _field in ("rps", "ttft_avg_s", "latency_p99_s", "tpot_p99_s", "output_tok_s"):
    CORRUPTIONS += [
        (f"{_field}-null", setter(f"levels.2.{_field}", None), f"levels[2].{_field}"),
        (f"{_field}-string", setter(f"levels.2.{_field}", "fast"), f"levels[2].{_field}"),
        (f"{_field}-nan", setter(f"levels.2.{_field}", RAW, "NaN"), "NaN"),
        (f"{_field}-list", setter(f"levels.2.{_field}", [1.0]), f"levels[2].{_field}"),
    ]
CORRUPTIONS += [
    ("rps-infinity", setter("levels.0.rps", RAW, "Infinity"), "Infinity"),
    ("rps-minus-infinity", setter("levels.0.rps", RAW, "-Infinity"), "Infinity"),
    ("rps-1e999", setter("levels.0.rps", RAW, "1e999"), "out of range"),
    ("rps-huge-int", setter("levels.0.rps", 10**400), "levels[0].rps"),
    ("rps-bool", setter("levels.0.rps", True), "levels[0].rps"),
    ("parallel-null", setter("levels.1.parallel", None), "levels[1].parallel"),
    ("parallel-string", setter("levels.1.parallel", "4"), "levels[1].parallel"),
    ("parallel-float", setter("levels.1.parallel", 1.5), "levels[1].parallel"),
    ("parallel-zero", setter("levels.1.parallel", 0), "levels[1].parallel"),
    ("parallel-huge", setter("levels.1.parallel", 10**30), "levels[1].parallel"),
    ("parallel-missing", remover("levels.1.parallel"), "levels[1].parallel"),
    ("number-negative", setter("levels.1.number", -4), "levels[1].number"),
    ("succeeded-string", setter("levels.1.succeeded", "4"), "levels[1].succeeded"),
    ("failed-negative", setter("levels.1.failed", -1), "levels[1].failed"),
    ("status-unknown", setter("levels.3.status", "great"), "levels[3].status"),
    ("status-number", setter("levels.3.status", 5), "levels[3].status"),
    ("reason-list", setter("levels.3.reason", ["x"]), "levels[3].reason"),
    ("expected-tokens-string", setter("levels.3.expected_output_tokens", "512"), "expected"),
    ("checks-without-keys", setter("levels.0.checks", [{"status": "flag"}]), "levels[0].checks"),
    ("checks-string", setter("levels.0.checks", "none"), "levels[0].checks"),
    ("checks-of-numbers", setter("levels.0.checks", [1]), "levels[0].checks[0]"),
    ("server-list", setter("levels.0.server", []), "levels[0].server"),
    ("server-figure-string", setter("levels.0.server", {"in_flight_median": "a"}), "in_flight"),
    ("client-number", setter("levels.0.client", 5), "levels[0].client"),
    # A version-1 file's `extra` is read as `diagnostics` (bench.schema.upgrade).
    ("extra-list", setter("levels.0.extra", [1]), "levels[0].diagnostics"),
    ("level-null", setter("levels.4", None), "levels[4]"),
    ("level-list", setter("levels.4", [1, 2]), "levels[4]"),
    ("levels-object", setter("levels", {"a": 1}), "levels"),
    ("levels-string", setter("levels", "all"), "levels"),
    ("levels-null", setter("levels", None), "levels"),
    ("no-levels", remover("levels"), "run_id/levels"),
    ("no-run-id", remover("run_id"), "run_id/levels"),
    ("run-id-number", setter("run_id", 5), "run_id"),
    ("no-scenario", remover("scenario"), "scenario"),
    ("scenario-list", setter("scenario", []), "scenario"),
    ("scenario-string", setter("scenario", "x"), "scenario"),
    ("scenario-load-string", setter("scenario.load", "x"), "scenario.load"),
    ("scenario-max-tokens", setter("scenario.load.max_tokens", "many"), "scenario.load"),
    ("scenario-unknown-field", setter("scenario.colour", "red"), "scenario.colour"),
    ("scenario-hash-missing", remover("scenario_hash"), "scenario_hash"),
    ("provenance-list", setter("provenance", []), "provenance"),
    ("provenance-string", setter("provenance", "x"), "provenance"),
    ("published-string", setter("provenance.published", "yes"), "provenance.published"),
    ("published-metrics", setter("provenance.published.metrics", 3), "metrics"),
    ("published-no-table", remover("provenance.published.table"), "provenance.published.table"),
    ("incidents-object", setter("incidents", {}), "incidents"),
    ("incident-empty", setter("incidents", [{}]), "incidents[0].kind"),
    ("check-list", setter("check", []), "check"),
    ("check-no-summary", setter("check", {"mode": "warn"}), "check.summary"),
    ("offline-number", setter("offline", 5), "offline"),
    ("status-top-number", setter("status", 3), "status"),
    ("schema-version", setter("schema_version", 99), "schema_version"),
]

# Blocks a published run does not have: corrupt them on the measured run.
MEASURED_CORRUPTIONS: list[tuple[str, Mutation, str]] = [
    ("prov-host-number", setter("provenance.host", 5), "provenance.host"),
    ("diagnostics-unknown", setter("levels.0.diagnostics", {"x": 1}), "levels[0].diagnostics.x"),
    ("check-status-unknown", setter("levels.0.checks.0.status", "bad"), "levels[0].checks[0]"),
    ("prov-argv-string", setter("provenance.server_argv", "vllm"), "provenance.server_argv"),
    ("prov-git-list", setter("provenance.git", []), "provenance.git"),
    ("offline-zero-rate", setter("offline.output_tok_s", 0), "output_tok_s"),
    ("offline-missing", remover("offline.requests"), "offline.requests"),
    ("check-latency-nan", setter("check.latency_s", RAW, "NaN"), "NaN"),
    ("incident-parallel-string", setter("incidents.0.parallel", "2"), "incidents[0].parallel"),
]


@pytest.mark.parametrize(
    ("mutate", "words"), [c[1:] for c in CORRUPTIONS], ids=[c[0] for c in CORRUPTIONS]
)
def test_compare_refuses_a_corrupt_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: Mutation, words: str
) -> None:
    data = reference()
    bad = write(tmp_path / "bad", data, mutate(data))
    code, _, err = run_cli(capsys, "compare", str(REF), str(bad))
    assert_one_line(code, err, str(bad / "run.json"))
    assert words in err


@pytest.mark.parametrize(
    ("mutate", "words"),
    [c[1:] for c in MEASURED_CORRUPTIONS],
    ids=[c[0] for c in MEASURED_CORRUPTIONS],
)
def test_report_refuses_a_corrupt_measured_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutate: Mutation, words: str
) -> None:
    data = measured()
    bad = write(tmp_path / "bad", data, mutate(data))
    code, _, err = run_cli(capsys, "report", str(bad))
    assert_one_line(code, err, str(bad / "run.json"))
    assert words in err
    assert not (bad / "report.md").exists()


COMMANDS: dict[str, Callable[[Path], list[str]]] = {
    "report": lambda bad: ["report", str(bad)],
    "gate-baseline": lambda bad: ["gate", str(bad), str(REF)],
    "gate-candidate": lambda bad: ["gate", str(REF), str(bad)],
    "release-table": lambda bad: ["release-table", str(REF), str(bad)],
    "resume": lambda bad: ["run", "--resume", str(bad)],
    "baseline-save": lambda bad: ["baseline", "save", str(bad), "--as", "b", "--dir"],
}
SAMPLE = ["rps-null", "parallel-string", "checks-without-keys", "levels-object", "scenario-list"]
SAMPLE += ["provenance-list", "rps-infinity", "incident-empty"]


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", SAMPLE)
def test_every_reader_refuses_a_corrupt_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, case: str
) -> None:
    mutate = next(c[1] for c in CORRUPTIONS if c[0] == case)
    data = reference()
    bad = write(tmp_path / "bad", data, mutate(data))
    argv = COMMANDS[command](bad)
    if command == "baseline-save":
        argv.append(str(tmp_path / "baselines"))
    code, _, err = run_cli(capsys, *argv)
    assert_one_line(code, err, str(bad / "run.json"))
    assert not (tmp_path / "baselines" / "b").exists()


def _files() -> list[tuple[str, Callable[[Path], None], str]]:
    def text(content: bytes) -> Callable[[Path], None]:
        return lambda folder: (folder / "run.json").write_bytes(content)

    good = dump(reference())
    return [
        ("truncated", text(good[: len(good) // 2].encode()), "unreadable run.json"),
        ("empty", text(b""), "unreadable run.json"),
        ("not-utf8", text(b"\xff\xfe{\x00}"), "not UTF-8"),
        ("latin1", text(good.replace('"published"', '"publi\u00e9"').encode("latin-1")), "UTF-8"),
        ("deep", text(b"[" * 100_000 + b"]" * 100_000), "unreadable run.json"),
        ("huge-int-text", text(b'{"run_id": ' + b"9" * 5000 + b"}"), "unreadable run.json"),
        ("top-level-list", text(b"[1, 2]"), "not a vlm-bench run.json"),
        ("top-level-null", text(b"null"), "not a vlm-bench run.json"),
        ("top-level-string", text(b'"run"'), "not a vlm-bench run.json"),
        ("nan-top", text(b"NaN"), "NaN"),
        ("run-json-is-a-dir", lambda folder: (folder / "run.json").mkdir(), "unreadable"),
        ("no-run-json", lambda folder: None, "no such run"),
    ]


@pytest.mark.parametrize(("make", "words"), [f[1:] for f in _files()], ids=[f[0] for f in _files()])
@pytest.mark.parametrize("command", ["report", "compare", "gate-candidate", "resume"])
def test_unreadable_run_files(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], None],
    words: str,
    command: str,
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    make(bad)
    argv = ["compare", str(REF), str(bad)] if command == "compare" else COMMANDS[command](bad)
    code, _, err = run_cli(capsys, *argv)
    assert_one_line(code, err, str(bad / "run.json"))
    assert words in err


def test_the_untouched_runs_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The corruptions above are what fails: the files they start from are accepted."""
    ref = write(tmp_path / "ref", reference())
    run = write(tmp_path / "measured", measured())
    assert main(["compare", str(REF), str(ref)]) == 0
    assert main(["report", str(run)]) == 0
    report = (run / "report.md").read_text()
    assert "server died" in report and "Offline" in report
    capsys.readouterr()


def test_an_older_scenario_block_is_completed_by_the_model(tmp_path: Path) -> None:
    """A scenario block is read as the Scenario model has it: a section an older file
    lacks is there with its defaults, so no reader meets a missing key."""
    data = reference()
    del data["scenario"]["gate"]
    run = read_run(write(tmp_path / "r", data))
    assert run.scenario.gate.model_dump(mode="json") == reference()["scenario"]["gate"]


# ---- gate and tables never judge non-numbers ---------------------------------------------


def _nan_rps(conc: int | None) -> tuple[Any, Any]:
    base = read_run(REFERENCE / "xllm-800ta2")
    cand = copy.deepcopy(base)
    for level in cand.levels:
        if conc is None or level.parallel == conc:
            for key in gate.default_thresholds():
                if gate.BY_KEY[key].telemetry:
                    continue  # not held by these runs (no telemetry): never gated here
                if conc is None or key == "rps":
                    setattr(level, key, math.nan)
    return base, cand


def test_gate_nan_candidate_rps_is_no_data_not_pass() -> None:
    """Bug: gate said PASS when the candidate's RPS was NaN."""
    base, cand = _nan_rps(4)
    result = gate.gate(base, cand, gate.default_thresholds())
    cell = next(c for c in result.cells if c.parallel == 4 and c.key == "rps")
    assert cell.verdict == "NO DATA" and "nan" in cell.detail
    assert result.exit_code() == 2 and result.exit_code(strict=True) == 2
    summary = result.summary()
    assert "PASS" not in summary and "conc 4 RPS no data" in summary
    assert "NO DATA" in render_gate(result)
    from bench.report.summary import gate_summary  # what `gate --json` prints

    assert gate_summary(result, strict=False)["verdict"] == "NO DATA"


def test_gate_with_no_data_anywhere_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    base, cand = _nan_rps(None)
    result = gate.gate(base, cand, gate.default_thresholds())
    assert {c.verdict for c in result.cells} == {"NO DATA"}
    assert result.exit_code() == 2
    assert result.summary().startswith("gate: NOTHING COMPARABLE")


def test_gate_judge_never_passes_infinity() -> None:
    metric = gate.BY_KEY["rps"]
    threshold = gate.default_thresholds()["rps"]
    for cand in ([math.inf], [1.0, math.nan], []):
        cell = gate.judge(1, metric, [1.0], cand, threshold, 0.05)
        assert cell.verdict == "NO DATA"


def test_a_regression_outranks_no_data() -> None:
    base, cand = _nan_rps(4)
    for level in cand.levels:
        if level.parallel == 32:
            level.tpot_avg_s *= 3
    result = gate.gate(base, cand, gate.default_thresholds())
    assert result.exit_code() == 1 and result.summary().startswith("gate: REGRESSION")


def test_tables_show_no_figure_for_non_numbers() -> None:
    from bench.report import compare, release
    from bench.report.tables import format_cell

    assert format_cell("rps", math.nan) == "—" and format_cell("rps", math.inf) == "—"
    assert compare.change_pct(math.nan, 1.0) is None and compare.change_pct(1.0, math.inf) is None
    base, cand = _nan_rps(4)
    assert 4 not in [lv.parallel for lv in release._trusted(cand.levels)]
    assert "nan" not in compare.render(compare.compare([base, cand])).lower()


# ---- property: any one-value mutation of a real run.json --------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += _paths(child, (*prefix, i))
    return out


MEASURED = measured()
PATHS = _paths(MEASURED)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(PATHS), value=JSON_VALUES)
def test_any_mutated_run_json_is_read_or_refused_in_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    path: tuple[Any, ...],
    value: Any,
) -> None:
    # Plots are drawn under a catch-all that logs (bench.measure.sweep.write_report); what is
    # tested here is reading and rendering, and drawing 150 figures would take minutes.
    monkeypatch.setattr(plots, "write_all", lambda *args, **kwargs: [])
    data = copy.deepcopy(MEASURED)
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(Path(tmp) / "run", data)
        for argv in (["report", str(folder)], ["compare", str(REF), str(folder), "--force"]):
            code = main(argv)
            err = capsys.readouterr().err.strip().splitlines()
            assert code in (0, 1, 2), (argv, err)
            if code == 2:
                assert len(err) == 1 and err[0].startswith("vlm-bench: error: "), err
