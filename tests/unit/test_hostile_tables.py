"""Hostile published tables, names and output paths: exit 2 with one line, no traceback.

Pins the Step 9 bugs: `import-table` accepted inf, nan, negative cells, percentages above
100, duplicate concurrency rows and a table with no rows; `baseline save --as ../../x`
and `import-table --name ../../x` wrote outside their folder; `gate ../x` looked the name
up under baselines/../x; an output folder under a file gave an OSError traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.cli import main
from bench.schema.runfile import read_run
from tests.support.cli import assert_one_line, run_cli
from tests.support.factories import reference_json, write_json
from tests.support.paths import REFERENCE, SCENARIOS

REF = REFERENCE / "vllm-ascend-800ta2"
REFERENCE_MD = REFERENCE / "vlm-r1-ovd-800ta2.md"
SCENARIO = SCENARIOS / "vlm-r1-ovd-800ta2.yaml"

# ---- published tables ------------------------------------------------------------------

TABLE_LINE = "| 4     | 0.14 | 28.239      | 28.729      | 72.47       | 0.391       | 0.684"
HEADER = "| Conc. | RPS  | Avg Lat.(s) |"


def _table(edit: Callable[[str], str]) -> bytes:
    text = REFERENCE_MD.read_text()
    start = text.index("## vllm-ascend")
    end = text.index("## xLLM")
    return (text[:start] + edit(text[start:end])).encode()


def _row(old: str, new: str) -> Callable[[str], str]:
    def edit(section: str) -> str:
        lines = section.splitlines(keepends=True)
        k = next(i for i, line in enumerate(lines) if line.startswith(TABLE_LINE))
        cells = lines[k].split("|")
        cells = [c.replace(old, new, 1) if c.strip() == old else c for c in cells]
        lines[k] = "|".join(cells)
        return "".join(lines)

    return edit


def _drop_rows(section: str) -> str:
    return "".join(
        x for x in section.splitlines(keepends=True) if not x.startswith("| ") or "Conc." in x
    )


TABLES: list[tuple[str, bytes, str]] = [
    ("inf", _table(_row("0.14", "inf")), ":18: RPS: not a finite number"),
    ("nan", _table(_row("0.14", "nan")), ":18: RPS: not a finite number"),
    ("negative", _table(_row("72.47", "-72.47")), ":18: Gen. toks/s: negative"),
    ("word", _table(_row("0.391", "fast")), ":18: Avg TTFT(s): not a number"),
    ("empty-cell", _table(_row("0.391", " ")), ":18: Avg TTFT(s): not a number"),
    ("percent-over", _table(lambda s: s.replace("100.0%", "150.0%", 3)), ": Success Rate: above"),
    ("conc-float", _table(_row("4", "4.5")), ":18: Conc.: expected a positive integer"),
    ("conc-zero", _table(_row("4", "0")), ":18: Conc.: expected a positive integer"),
    ("conc-huge", _table(_row("4", "9" * 400)), ":18: Conc.: expected a positive integer"),
    ("duplicate", _table(_row("4", "2")), ":18: Conc.: concurrency 2 appears twice"),
    ("no-rows", _table(_drop_rows), "the table has no rows"),
    ("missing-column", _table(lambda s: s.replace("| RPS  ", "", 1)), "missing: RPS"),
    ("cell-count", _table(lambda s: s.replace("| 0.14 ", "", 1)), ":18: expected 10 cells"),
    ("no-rule", _table(lambda s: s.replace("|-------|", "| x |", 1)), "expected the |---| rule"),
    ("not-utf8", b"\xff\xfe| Conc. |", "not UTF-8"),
]


@pytest.mark.parametrize(("content", "words"), [t[1:] for t in TABLES], ids=[t[0] for t in TABLES])
def test_import_table_refuses_a_bad_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, words: str
) -> None:
    source = tmp_path / "table.md"
    source.write_bytes(content)
    argv = ["import-table", str(source), "--name", "pub", "--scenario", str(SCENARIO)]
    argv += ["--table", "vllm-ascend", "--out", str(tmp_path / "out")]
    code, _, err = run_cli(capsys, *argv)
    assert_one_line(code, err, str(source))
    assert words in err
    assert not (tmp_path / "out").exists()


def test_import_table_accepts_the_reference_table(tmp_path: Path) -> None:
    argv = ["import-table", str(REFERENCE_MD), "--name", "pub", "--scenario", str(SCENARIO)]
    assert main([*argv, "--table", "vllm-ascend", "--out", str(tmp_path / "out")]) == 0
    assert read_run(tmp_path / "out").levels[2].parallel == 4


# ---- names never leave their folder; unwritable outputs ----------------------------------

BAD_NAMES = [
    "../../x",
    "..",
    "a/b",
    "/abs",
    "",
    ".hidden",
    "a" * 101,
    "x\x00y",
    "n\u00e4me",
    "a..b",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_baseline_save_refuses_a_name_leaving_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """Bug: `baseline save --as ../../x` wrote outside baselines/."""
    base = tmp_path / "a" / "b" / "baselines"
    code, _, err = run_cli(capsys, "baseline", "save", str(REF), "--as", name, "--dir", str(base))
    assert_one_line(code, err, "--as")
    assert list(tmp_path.rglob("run.json")) == []


@pytest.mark.parametrize("name", BAD_NAMES[:6])
def test_import_table_refuses_a_name_leaving_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """Bug: `import-table --name ../../x` wrote outside the output folder."""
    argv = ["import-table", str(REFERENCE_MD), "--name", name, "--scenario", str(SCENARIO)]
    code, _, err = run_cli(capsys, *argv, "--table", "vllm-ascend")
    assert_one_line(code, err, "--name")


def test_gate_does_not_resolve_names_outside_baselines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    (work / "baselines").mkdir(parents=True)
    write_json(
        work / "outside", json.dumps(reference_json())
    )  # what baselines/../outside would reach
    write_json(work / "baselines" / "good", json.dumps(reference_json()))
    monkeypatch.chdir(work)
    code, _, err = run_cli(capsys, "gate", str(REF), "../outside")
    assert_one_line(code, err, "no such run")
    assert main(["gate", str(REF), "good"]) == 0


OUTPUTS: dict[str, Callable[[Path, Path], list[str]]] = {
    "compare": lambda out, _: ["compare", str(REF), str(REF), "--out", str(out)],
    "release-table": lambda out, _: ["release-table", str(REF), "--out", str(out)],
    "gate": lambda out, _: ["gate", str(REF), str(REF), "--out", str(out)],
    "import-table": lambda out, _: [
        "import-table",
        str(REFERENCE_MD),
        "--name",
        "p",
        "--scenario",
        str(SCENARIO),
        "--table",
        "xLLM",
        "--out",
        str(out),
    ],
    "baseline": lambda out, _: ["baseline", "save", str(REF), "--as", "b", "--dir", str(out)],
}


@pytest.mark.parametrize("command", list(OUTPUTS))
def test_an_output_under_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder\n")
    out = blocker / "sub"
    code, _, err = run_cli(capsys, *OUTPUTS[command](out, tmp_path))
    assert_one_line(code, err, str(out))
