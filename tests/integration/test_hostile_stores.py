"""Hostile stores and odd `--db` values through `db index`, `db prune`, `export`,
`dashboard` and `history`, each case one real `python -m bench` process with a timeout.

Every answer is exit 0 or 2, with no traceback and no hang; a refusal (exit 2) is exactly
one `vlm-bench: error:` line naming what is wrong (table, column and run for a bad value).
The stores are copies of one small store prepared once per module, tampered with through
sqlite3 (text where a number belongs, tables and columns gone, a schema version from the
future, garbage, an empty file, a folder or FIFO); the cases run a few at a time.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.store.db import open_store
from bench.store.index import index_paths
from tests.support.cli import vlm_bench
from tests.support.store import stored_runs

pytestmark = pytest.mark.integration

TIMEOUT_S = 120
SECRET = "pw-never-shown"
RUNS_TABLE = "runs"


@dataclass(frozen=True)
class Case:
    """One hostile input: how to make the store (`make(path)`: None for a given --db
    value), the command, and what it must answer."""

    name: str
    argv: tuple[str, ...]  # {db} is the store, {out} a fresh folder
    code: int
    says: str  # in the error line (exit 2) or in stderr (exit 0)
    make: Callable[[Path], None] | None = None
    db: str | None = None  # a literal --db value instead of a made store
    env: dict[str, str] = field(default_factory=dict)


def _sql(*statements: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with sqlite3.connect(path) as conn:
            for statement in statements:
                conn.execute(statement)

    return make


def _write(data: bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.unlink()
        path.write_bytes(data)

    return make


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


EXPORT = ("export", "--db", "{db}", "--format", "csv", "--out", "{out}/x.csv")
HISTORY = ("history", "--db", "{db}", "--conc", "1")
DASHBOARD = ("dashboard", "--db", "{db}", "--out", "{out}/site")
INDEX = ("db", "index", "{runs}", "--db", "{db}")
PRUNE = ("db", "prune", "--keep", "1", "--db", "{db}")

TEXT_VALUE = _sql("UPDATE level_metrics SET value = 'fast' WHERE rowid = 3")
TEXT_PARALLEL = _sql("UPDATE levels SET parallel = 'eight' WHERE rowid = 2")
BAD_VALUE = "table level_metrics, column value, run /"
BAD_PARALLEL = "table levels, column parallel, run /"

CASES = [
    # Wrong types: one line naming the table, the column and the run.
    Case("text-value-export", EXPORT, 2, BAD_VALUE, TEXT_VALUE),
    Case("text-value-history", HISTORY, 2, BAD_VALUE, TEXT_VALUE),
    Case("text-value-dashboard", DASHBOARD, 2, BAD_VALUE, TEXT_VALUE),
    Case("text-parallel-export", EXPORT, 2, BAD_PARALLEL, TEXT_PARALLEL),
    Case("text-parallel-history", HISTORY, 2, BAD_PARALLEL, TEXT_PARALLEL),
    Case("text-parallel-dashboard", DASHBOARD, 2, BAD_PARALLEL, TEXT_PARALLEL),
    Case(
        "blob-value-export",
        EXPORT,
        2,
        "is not a number",
        _sql("UPDATE level_metrics SET value = x'00ff' WHERE rowid = 1"),
    ),
    Case(
        "nan-text-value-history",
        HISTORY,
        2,
        "'NaN' is not a number",
        _sql("UPDATE level_metrics SET value = 'NaN'"),
    ),
    Case(
        "yes-trusted-export",
        EXPORT,
        2,
        "column trusted, run /",
        _sql("UPDATE levels SET trusted = 'yes'"),
    ),
    Case(
        "float-repeat-export",
        EXPORT,
        2,
        "column repeat, run /",
        _sql("UPDATE levels SET repeat = 1.5"),
    ),
    Case(
        "blob-workload-history",
        HISTORY,
        2,
        "table runs, column workload_fingerprint, run id 1: b'\\xff' is not text",
        _sql("UPDATE runs SET workload_fingerprint = x'ff' WHERE id = 1"),
    ),
    Case(
        "no-workload-column-history",
        HISTORY,
        2,
        "column runs.workload_fingerprint is missing",
        _sql("ALTER TABLE runs DROP COLUMN workload_fingerprint"),
    ),
    Case(
        "number-scenario-prune",
        PRUNE,
        2,
        "table runs, column scenario_name, run id ",
        _sql("UPDATE runs SET scenario_name = x'ff'"),
    ),
    Case(
        "relative-run-dir-dashboard",
        DASHBOARD,
        2,
        "column run_dir, run id 1: 'x/../../etc' is not an absolute path",
        _sql("UPDATE runs SET run_dir = 'x/../../etc' WHERE id = 1"),
    ),
    Case(
        "run-dir-elsewhere-dashboard",
        DASHBOARD,
        0,
        "is in the store but a folder without run.json (not a run folder)",
        _sql("UPDATE runs SET run_dir = '/' WHERE id = 1"),
    ),
    # Missing tables and columns, schema versions this vlm-bench does not know.
    Case(
        "no-levels-export",
        EXPORT,
        2,
        "table levels is missing",
        _sql("DROP TABLE level_checks", "DROP TABLE level_metrics", "DROP TABLE levels"),
    ),
    Case(
        "no-levels-index",
        INDEX,
        2,
        "table levels is missing",
        _sql("DROP TABLE level_checks", "DROP TABLE level_metrics", "DROP TABLE levels"),
    ),
    Case(
        "no-model-column-history",
        HISTORY,
        2,
        "column runs.model is missing",
        _sql("ALTER TABLE runs DROP COLUMN model"),
    ),
    Case(
        "newer-schema-export",
        EXPORT,
        2,
        "(written by a newer vlm-bench?)",
        _sql("UPDATE alembic_version SET version_num = 'r9999'"),
    ),
    Case(
        "newer-schema-index",
        INDEX,
        2,
        "(written by a newer vlm-bench?)",
        _sql("UPDATE alembic_version SET version_num = 'r9999'"),
    ),
    Case(
        "garbage-version-history",
        HISTORY,
        2,
        "'banana'",
        _sql("UPDATE alembic_version SET version_num = 'banana'"),
    ),
    Case(
        "no-version-table-index",
        INDEX,
        2,
        "not a vlm-bench store: it has table level_checks but no alembic_version",
        _sql("DROP TABLE alembic_version"),
    ),
    Case(
        "foreign-database-export",
        EXPORT,
        2,
        "no vlm-bench store in it",
        _write(b""),
    ),
    # Files that are not stores at all.
    Case("garbage-export", EXPORT, 2, "file is not a database", _write(b"\x89PNG" * 2000)),
    Case("garbage-index", INDEX, 2, "file is not a database", _write(b"not sqlite\n" * 100)),
    Case("garbage-dashboard", DASHBOARD, 2, "file is not a database", _write(b"\0" * 4096)),
    Case("empty-file-history", HISTORY, 2, "no vlm-bench store in it", _write(b"")),
    Case("folder-export", EXPORT, 2, "is a folder", _folder),
    Case("folder-index", INDEX, 2, "is a folder", _folder),
    Case("folder-dashboard", DASHBOARD, 2, "is a folder", _folder),
    Case("fifo-export", EXPORT, 2, "not a regular file", _fifo),
    Case("fifo-index", INDEX, 2, "not a regular file", _fifo),
    Case("fifo-history", HISTORY, 2, "not a regular file", _fifo),
    # Odd --db values and VLM_BENCH_DB: refused before anything is created.
    Case("empty-db-export", EXPORT, 2, "--db: empty", db=""),
    Case("empty-db-index", INDEX, 2, "--db: empty", db=""),
    Case(
        "file-url-index", INDEX, 2, "--db file:/x.db: unsupported database 'file'", db="file:/x.db"
    ),
    Case(
        "sqlite-userinfo-index",
        INDEX,
        2,
        "a SQLite URL takes no user, password or host",
        db=f"sqlite://me:{SECRET}@/made/x.db",
    ),
    Case("sqlite-memory-history", HISTORY, 2, "in-memory store keeps nothing", db="sqlite://"),
    Case(
        "mysql-dashboard",
        DASHBOARD,
        2,
        "unsupported database 'mysql'",
        db=f"mysql://me:{SECRET}@127.0.0.1/x",
    ),
    Case(
        "env-file-url-history",
        ("history", "--conc", "1"),
        2,
        "VLM_BENCH_DB file:/x.db: unsupported database",
        env={"VLM_BENCH_DB": "file:/x.db"},
    ),
    Case(
        "env-userinfo-export",
        ("export", "--format", "csv", "--out", "{out}/x.csv"),
        2,
        "VLM_BENCH_DB sqlite://<redacted>@/made/x.db: a SQLite URL takes no user",
        env={"VLM_BENCH_DB": f"sqlite://me:{SECRET}@/made/x.db"},
    ),
    Case("bad-keep-prune", ("db", "prune", "--keep", "0", "--db", "{db}"), 2, "--keep 0"),
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the run folders, a store that indexed them): the copy each case starts from."""
    root = tmp_path_factory.mktemp("hostile-stores")
    runs = stored_runs(root)
    store = root / "clean.db"
    with open_store(store) as opened:
        assert len(index_paths(opened, [runs]).indexed) == 5
    return runs, store


Answer = tuple[subprocess.CompletedProcess[str], Path]  # the process, its working folder


def _run(case: Case, runs: Path, clean: Path, work: Path) -> Answer:
    folder = work / case.name
    folder.mkdir()
    db = folder / "store.db"
    shutil.copyfile(clean, db)
    if case.make is not None:
        case.make(db)
    values = {"db": str(db) if case.db is None else case.db, "out": str(folder), "runs": str(runs)}
    argv = [arg.format(**values) for arg in case.argv]
    env = {k: v for k, v in os.environ.items() if k != "VLM_BENCH_DB"} | case.env
    try:
        return vlm_bench(*argv, cwd=folder, timeout=TIMEOUT_S, env=env), folder
    except subprocess.TimeoutExpired:
        hung = f"HUNG: no answer in {TIMEOUT_S} s"
        return subprocess.CompletedProcess(argv, -1, "", hung), folder


@pytest.fixture(scope="module")
def answers(
    prepared: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Answer]:
    """Every case's process, run three at a time (each with its own timeout)."""
    runs, clean = prepared
    work = tmp_path_factory.mktemp("cases")
    with ThreadPoolExecutor(max_workers=3) as pool:
        done = {c.name: pool.submit(_run, c, runs, clean, work) for c in CASES}
    return {name: future.result() for name, future in done.items()}


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_hostile_store_is_one_line_and_exit_0_or_2(
    case: Case, answers: dict[str, Answer]
) -> None:
    """Regression: a tampered store (text in level_metrics.value or levels.parallel) gave
    tracebacks in export, dashboard and history; odd --db values made files or folders."""
    done, _ = answers[case.name]
    err = done.stderr.strip()
    assert "Traceback" not in err and "HUNG" not in err, err[-3000:]
    assert done.returncode == case.code, err[-3000:]
    assert SECRET not in done.stdout + done.stderr
    assert case.says in err, err
    lines = err.splitlines()
    if case.code == 2:
        assert len(lines) == 1 and lines[0].startswith("vlm-bench: error: "), err
    else:
        assert len(lines) == 1, err  # the skipped entry, named


ODD = [c for c in CASES if c.db is not None or c.env]


@pytest.mark.parametrize("case", ODD, ids=[c.name for c in ODD])
def test_an_odd_db_value_creates_nothing(case: Case, answers: dict[str, Answer]) -> None:
    """Regression: `--db file:/x.db` wrote ./file:/x.db (relative to the working folder),
    `sqlite://u:pw@/x.db` left empty folders before its traceback."""
    done, folder = answers[case.name]
    assert done.returncode == 2
    assert [p.name for p in folder.iterdir()] == ["store.db"]  # the unused copy only
    assert not Path("/made").exists() and not Path("/x.db").exists()
