"""`release-table` for scripts: `--json`, `--by model`, and the CSV's empty cells.

The markdown table shows a missing key as "—"; the CSV and the JSON never do (an empty cell,
a null), and a figure that is not a finite number is empty (CSV) or null (JSON) too.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from bench.cli import main
from bench.report import release
from tests.support.factories import reference
from tests.support.paths import REFERENCE

RUNS = [str(REFERENCE / "vllm-ascend-800ta2"), str(REFERENCE / "xllm-800ta2")]


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["release-table", *RUNS, "--json", *argv]) == 0
    data: dict = json.loads(capsys.readouterr().out)
    return data


def test_json_rows_capacity_and_nulls(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys)
    assert data["by"] == ["hardware", "backend", "version"] and data["knee_factor"] == 1.1
    assert len(data["rows"]) == 12
    first = data["rows"][0]
    assert first["hardware"] == "Atlas 800T A2 (1 NPU)" and first["version"] is None
    assert first["parallel"] == 1 and first["rps"] == 0.04 and first["tokens_honoured"] is True
    runs = [reference("vllm-ascend-800ta2"), reference("xllm-800ta2")]
    knees = [cap["knee_parallel"] for cap in data["capacity"]]
    assert knees == [release.knee(run.levels, 1.1) for run in runs] == [32, 4]
    assert data["capacity"][0]["slo_parallel"] == 8
    assert data["capacity"][0]["text"] == release.capacity_line(runs[0], 1.1)


def test_json_with_out_writes_the_files_and_prints_only_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _json(capsys, "--out", str(tmp_path), "--knee", "1.05")
    assert data["knee_factor"] == 1.05
    assert (tmp_path / "release.md").read_text().startswith("# Release table\n\n| Hardware ")
    assert (tmp_path / "release.csv").read_text().count("\n") == 13


def test_by_model_groups_runs_by_served_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["release-table", *RUNS, "--by", "model,backend"]) == 0
    text = capsys.readouterr().out
    header = text.splitlines()[2]
    assert [cell.strip() for cell in header.split("|")[1:3]] == ["Model", "Backend"]
    assert "| VLM-R1-Qwen2.5VL-3B-OVD-0321 " in text
    rows = _json(capsys, "--by", "model")["rows"]
    assert {row["model"] for row in rows} == {"VLM-R1-Qwen2.5VL-3B-OVD-0321"}


def test_csv_cells_are_empty_for_missing_never_a_dash() -> None:
    """Bug: the release CSV wrote "—" for a run without a version (and "nan" for a missing
    figure), so a script reading it had to know the markdown table's display dash."""
    runs = [reference("vllm-ascend-800ta2")]
    runs[0].levels[0].ttft_p99_s = math.nan
    text = release.csv_text(runs, ["hardware", "backend", "version"])
    assert "—" not in text and "nan" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["version"] == "" and rows[0]["ttft_p99_s"] == ""
    assert rows[1]["ttft_p99_s"] == "0.449"
    assert "| —       |" in release.render(runs, ["version"])  # the markdown keeps its dash
