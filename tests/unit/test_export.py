"""`vlm-bench export` and the output-format registry (bench/store/formats.py, export.py):
every format from one registration, the format from --out's extension, `-` for stdout,
timestamps as timezone-aware times, missing values empty or null, and CSV that a
spreadsheet cannot run (the OWASP rule) yet reads back as numbers."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bench.schema.text import bounded
from bench.store import formats
from bench.store.export import export_table
from bench.store.frame import COLUMNS
from tests.support.cli import run_cli
from tests.support.paths import RUNS

NAMES = ("=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\rCR", "line\r\nbreak", 'say "hi"')


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """Copies of the stored quick-start run, named after every formula start and line break."""
    data = json.loads((RUNS / "sim-quickstart" / "run.json").read_text())
    for i, name in enumerate(NAMES):
        data["scenario_name"] = name
        data["scenario"]["hardware"] = name
        folder = tmp_path / "runs" / f"r{i}"
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps(data))
    return tmp_path / "runs"


def test_csv_neutralises_formulas_quotes_line_breaks_and_keeps_numbers(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Step 18: names beginning with = + - @ (or holding CR/LF) came out as live formulas
    and broke rows."""
    out = tmp_path / "all.csv"
    code, _, err = run_cli(capsys, "export", str(runs), "--out", str(out))
    assert code == 0, err
    text = out.read_bytes().decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert {len(r) for r in rows} == {len(COLUMNS)}
    assert len(rows) == 1 + len(export_table(runs))
    text_cells = [
        c for r in rows[1:] for c, name in zip(r, COLUMNS, strict=True) if name != "value"
    ]
    assert not [c for c in text_cells if c.startswith(formats.FORMULA_START)]
    names = {r[COLUMNS.index("scenario_name")] for r in rows[1:]}
    # Read back as the result model reads any run.json text (bench/schema/text.py: a CR
    # shown as an escape, LF and tab kept), then neutralised.
    read = [bounded(n) for n in NAMES]
    assert names == {"'" + n if n.startswith(formats.FORMULA_START) else n for n in read}
    assert any("\n" in n for n in names)  # a line break survives, quoted
    back = pd.read_csv(out)
    assert back["value"].dtype == "float64" and back["level_index"].dtype == "int64"
    assert back["value"].tolist() == pytest.approx(
        export_table(runs)["value"].tolist(), nan_ok=True
    )


def test_the_format_comes_from_the_extension_and_times_keep_their_zone(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "all.parquet"
    code, stdout, err = run_cli(capsys, "export", str(runs), "--out", str(out))
    assert code == 0 and stdout.strip() == str(out), err
    back = pd.read_parquet(out)
    assert str(back["started_at"].dtype) == "datetime64[us, UTC]"
    code, _, err = run_cli(capsys, "export", str(runs), "--out", str(tmp_path / "all.xyz"))
    assert code == 2 and "cannot tell the format" in err and err.count("\n") == 1


def test_dash_writes_to_stdout_and_missing_values_are_empty_or_null(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "export", str(runs), "--out", "-", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    missing = int(export_table(runs)["value"].isna().sum())
    assert missing > 0 and sum(r["value"] is None for r in rows) == missing
    assert rows[0]["started_at"].endswith("Z") and "—" not in out and "NaN" not in out
    code, out, _ = run_cli(capsys, "export", str(runs), "--out", "-", "--format", "csv")
    cells = list(csv.DictReader(io.StringIO(out, newline="")))
    assert code == 0 and sum(r["value"] == "" for r in cells) == missing and "—" not in out
    code, _, err = run_cli(capsys, "export", str(runs), "--out", "-")
    assert code == 2 and "--out -: give --format" in err


@pytest.mark.parametrize("name", ["markdown", "html"])
def test_every_registered_format_writes_the_table(
    name: str, runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "export", str(runs), "--out", "-", "--format", name)
    assert code == 0, err
    assert "quickstart" not in out  # every copy was renamed
    assert "@cmd" in out and "—" not in out and "nan" not in out.lower()


def test_a_new_format_is_one_registration(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fmt = formats.Format("rowcount", (".count",), lambda data: f"{len(data)}\n".encode())
    formats.register(fmt)
    try:
        out = tmp_path / "x.count"
        assert run_cli(capsys, "export", str(runs), "--out", str(out))[0] == 0
        assert out.read_text() == f"{len(export_table(runs))}\n"
        code, stdout, _ = run_cli(
            capsys, "export", str(runs), "--what", "requests", "--format", "rowcount", "--out", "-"
        )
        assert code == 0 and stdout == "0\n"  # the stored runs keep no requests
    finally:
        formats.unregister("rowcount")
    code, _, err = run_cli(capsys, "export", str(runs), "--format", "rowcount", "--out", "-")
    assert code == 2 and "--format 'rowcount': must be one of csv, json" in err


def test_requests_of_a_folder_without_records_is_an_empty_table(runs: Path, tmp_path: Path) -> None:
    data = export_table(runs, "requests")
    assert data.empty and "sent_at" in data.columns
    shutil.rmtree(runs)
    runs.mkdir()
    assert export_table(runs).empty


def test_a_time_that_is_no_time_exports_as_missing(tmp_path: Path) -> None:
    """A hand-edited run.json's `started_at` of free text must not end the export in a
    traceback."""
    data = json.loads((RUNS / "sim-quickstart" / "run.json").read_text())
    data["provenance"]["started_at"] = "last tuesday"
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "run.json").write_text(json.dumps(data))
    table = export_table(tmp_path)
    assert table["started_at"].isna().all() and table["ended_at"].notna().all()
