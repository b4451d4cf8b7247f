"""The evalscope adapter's database reader (bench/load/evalscope_db.py) on small databases
made here with the schema of a recorded evalscope 1.14.1 run, and the rule that nothing
outside bench/load/ knows evalscope (its modules or its file names).
"""

from __future__ import annotations

import ast
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from bench.digest import request_digest
from bench.errors import UserError
from bench.load import evalscope_db
from bench.load.evalscope_db import DB_FILE, RequestRow, count_rows, read_requests

ROOT = Path(__file__).resolve().parents[2]
RECORDED = ROOT / "tests" / "data" / "evalscope" / "ok" / "parallel_2_number_4" / DB_FILE
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


def evalscope_schema() -> str:
    """`CREATE TABLE result(…)` exactly as evalscope wrote it in a recorded run."""
    with closing(sqlite3.connect(f"{RECORDED.as_uri()}?mode=ro", uri=True)) as con:
        (sql,) = con.execute("SELECT sql FROM sqlite_master WHERE name = 'result'").fetchone()
    return str(sql)


def row(**values: Any) -> dict[str, Any]:
    """A successful streamed request of three tokens; `values` override columns."""
    out = {
        "request": json.dumps(BODY),
        "start_time": 10.0,
        "completed_time": 10.5,
        "latency": 0.5,
        "first_chunk_latency": 0.1,
        "prompt_tokens": 7,
        "completion_tokens": 3,
        "success": 1,
        "is_stream": 1,
        "inter_token_latencies": "[0.2, 0.2]",
    }
    return {**out, **values}


def make_level(folder: Path, rows: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(folder / DB_FILE)) as con:
        con.execute(evalscope_schema())
        for values in rows:
            names = ", ".join(values)
            marks = ", ".join("?" for _ in values)
            con.execute(f"INSERT INTO result ({names}) VALUES ({marks})", list(values.values()))
        con.commit()
    return folder


def test_rows_are_typed_in_recorded_order(tmp_path: Path) -> None:
    failed = row(
        start_time=11.0,
        completed_time=12.0,
        latency=None,
        first_chunk_latency=None,
        prompt_tokens=None,
        completion_tokens=None,
        success=0,
        inter_token_latencies=None,
        request="not json",
    )
    level = make_level(tmp_path / "level", [row(), failed, row(is_stream=0, latency=1)])
    first, second, third = read_requests(level)
    assert first == RequestRow(
        start_time=10.0,
        completed_time=10.5,
        latency_s=0.5,
        ttft_s=0.1,
        prompt_tokens=7,
        completion_tokens=3,
        success=True,
        request_sha=request_digest(BODY),
        stream=True,
        itl_s=(0.2, 0.2),
    )
    assert second.success is False and second.request_sha is None and second.itl_s == ()
    assert second.latency_s is second.ttft_s is second.completion_tokens is second.tpot_s is None
    assert third.stream is False
    assert isinstance(third.latency_s, float)  # an integer in the column is still seconds
    assert first.tpot_s == pytest.approx(0.2)  # (0.5 - 0.1) / (3 - 1)


def test_progress_counts_finished_and_failed(tmp_path: Path) -> None:
    assert count_rows(tmp_path / "not-yet") == (0, 0)
    assert not (tmp_path / "not-yet" / DB_FILE).exists()
    level = make_level(tmp_path / "level", [row(), row(success=0, latency=None), row()])
    assert count_rows(level) == (3, 1)


def test_progress_before_evalscope_made_its_table(tmp_path: Path) -> None:
    """A database file without table `result` yet reads as no progress, not an error."""
    (tmp_path / DB_FILE).write_bytes(b"")
    assert count_rows(tmp_path) == (0, 0)


def test_missing_database_is_one_line_and_not_created(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"benchmark_data\.db: missing") as info:
        read_requests(tmp_path)
    assert "\n" not in str(info.value)
    assert not (tmp_path / DB_FILE).exists()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"inter_token_latencies": "[0.1, oops]"},
            "inter_token_latencies is not a JSON list of numbers",
        ),
        ({"latency": None}, "a successful request without latency, TTFT or token counts"),
        ({"start_time": None}, "start_time/completed_time missing"),
    ],
)
def test_a_damaged_row_names_file_and_row(
    tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    level = make_level(tmp_path, [row(), row(**values)])
    with pytest.raises(UserError) as info:
        read_requests(level)
    assert str(info.value) == f"{level / DB_FILE}: row 2: {message}"


def _outside_load() -> list[Path]:
    return [p for p in (ROOT / "bench").rglob("*.py") if "load" not in p.relative_to(ROOT).parts]


def test_only_the_load_layer_imports_evalscope() -> None:
    """The adapter is the one place that knows evalscope's modules (bench/sim/ stands in
    for a server, not for evalscope, so it is held to the rule too)."""
    offenders = []
    for path in _outside_load():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] == "evalscope" for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_only_the_load_layer_spells_evalscope_file_names() -> None:
    names = {evalscope_db.DB_FILE, evalscope_db.SUMMARY_FILE, evalscope_db.PERCENTILE_FILE}
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in _outside_load()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and any(node.value == n or node.value.endswith("/" + n) for n in names)
    ]
    assert offenders == []
