"""The results store without a server: which store a URL or path means, how it is shown
(never its password), and the quiet index at the end of a run (VLM_BENCH_DB=off, and a
store that fails is only a warning)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import sqlite3
from pathlib import Path

import pytest

from bench.config.published import REFERENCE_GUIDE
from bench.errors import UserError
from bench.schema.results import RunStatus
from bench.schema.runfile import read_run
from bench.schema.runwrite import write_run
from bench.store import auto
from bench.store.db import DEFAULT_PATH, engine_url, open_store, shown, target
from bench.store.frame import COLUMNS, load_runs
from bench.store.index import index_run, settled
from bench.store.prune import PruneRule, StoredRun, chosen, parse_before, parse_started
from tests.support.cli import run_cli
from tests.support.paths import RUNS, SCENARIOS

SECRET = "s3cret-pass"


def test_a_path_is_sqlite_and_postgres_urls_use_psycopg(tmp_path: Path) -> None:
    assert engine_url(str(tmp_path / "x.db")).drivername == "sqlite"
    for scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        assert engine_url(f"{scheme}://u@h/db").drivername == "postgresql+psycopg"
    with pytest.raises(UserError, match="unsupported database 'mysql'") as info:
        engine_url(f"mysql://u:{SECRET}@h/db")
    assert SECRET not in str(info.value)
    with pytest.raises(UserError, match="is a folder"):
        engine_url(str(tmp_path))


def test_a_url_is_shown_without_its_password() -> None:
    assert shown(f"postgresql://me:{SECRET}@db:5432/x") == "postgresql://<redacted>@db:5432/x"
    assert SECRET not in shown(f"postgresql://db/x?password={SECRET}&sslmode=require")


def test_the_store_is_the_flag_then_vlm_bench_db_then_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VLM_BENCH_DB", "postgresql://h/db")
    assert target("a.db") == "a.db"
    assert target(None) == "postgresql://h/db"
    for value in ("off", "OFF", "", " "):
        monkeypatch.setenv("VLM_BENCH_DB", value)
        assert target(None) == str(DEFAULT_PATH)


def _a_finished_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "reports" / "quickstart" / "20261128-000000-abcd"
    shutil.copytree(RUNS / "sim-quickstart", run_dir)
    return run_dir


def test_a_finished_run_is_indexed_beside_the_run_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VLM_BENCH_DB", raising=False)
    run_dir = _a_finished_run(tmp_path)
    auto.index_finished_run(run_dir)
    store = tmp_path / "reports" / "vlm-bench.db"
    frame = load_runs(store)
    assert tuple(frame.columns) == COLUMNS
    assert set(frame.run_dir) == {run_dir.resolve().as_posix()}


def test_vlm_bench_db_off_turns_the_index_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLM_BENCH_DB", "off")
    auto.index_finished_run(_a_finished_run(tmp_path))
    assert not (tmp_path / "reports" / "vlm-bench.db").exists()


@pytest.mark.parametrize(
    "store",
    [f"postgresql://me:{SECRET}@127.0.0.1:1/x", "{tmp}", "sqlite:///{tmp}/no/such/dir/x.db"],
)
def test_a_store_that_fails_is_one_warning_never_an_error(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    run_dir = _a_finished_run(tmp_path)
    monkeypatch.setenv("VLM_BENCH_DB", store.replace("{tmp}", str(tmp_path)))
    monkeypatch.setattr(Path, "mkdir", _refuse)  # the SQLite folder cannot be made
    with caplog.at_level(logging.WARNING, logger="bench.store.auto"):
        auto.index_finished_run(run_dir)
    (record,) = caplog.records
    assert "run not indexed" in record.getMessage() and SECRET not in record.getMessage()


def _refuse(self: Path, *args: object, **kwargs: object) -> None:
    raise PermissionError(13, "Permission denied", str(self))


def test_export_from_a_missing_default_store_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such store"):
        open_store(tmp_path / "none.db", must_exist=True)


def test_a_file_that_is_not_a_store_or_a_newer_store_is_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("not sqlite")
    with pytest.raises(UserError, match=r"junk.db: cannot open the store: file is not a database"):
        open_store(junk)
    newer = tmp_path / "newer.db"
    open_store(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'r9999'")
    with pytest.raises(UserError, match=r"'r9999' \(written by a newer vlm-bench"):
        open_store(newer)


def test_import_table_and_baseline_index_what_they_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A published table and a baseline are runs of the store like a measured run."""
    monkeypatch.delenv("VLM_BENCH_DB", raising=False)
    reports = tmp_path / "reports"
    published = reports / "pub"
    code, _, _ = run_cli(
        capsys,
        "import-table",
        str(REFERENCE_GUIDE),
        "--name",
        "pub",
        "--table",
        "xLLM",
        "--scenario",
        str(SCENARIOS / "vlm-r1-ovd-800ta2.yaml"),
        "--out",
        str(published),
    )
    assert code == 0
    frame = load_runs(str(reports / "vlm-bench.db"))
    assert set(frame["run_dir"]) == {str(published.resolve())}
    assert frame["published"].all()
    code, _, _ = run_cli(
        capsys, "baseline", "save", str(published), "--as", "base", "--dir", str(tmp_path / "b")
    )
    assert code == 0
    # The baseline goes into the store of the run it was saved from: here tmp_path's.
    frame = load_runs(str(tmp_path / "vlm-bench.db"))
    assert set(frame["run_dir"]) == {str((tmp_path / "b" / "base").resolve())}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "--db: empty"),
        ("  ", "--db: empty"),
        ("file:/x.db", "unsupported database 'file'"),
        ("file:///x.db", "unsupported database 'file'"),
        (f"sqlite://u:{SECRET}@/x.db", "a SQLite URL takes no user, password or host"),
        ("sqlite://host/x.db", "a SQLite URL takes no user, password or host"),
        ("sqlite:x.db", "not a database URL"),
        ("sqlite://", "no file (an in-memory store keeps nothing)"),
        ("sqlite:///:memory:", "no file"),
        ("sqlite:///x.db?mode=ro", "options on a SQLite URL"),
        ("postgresql://host", "no database name"),
        ("postgresql://u@h:port/db", "not a database URL"),
        ("postgresql:db", "not a database URL"),
        ("x\0y.db", "contains a NUL byte"),
    ],
)
def test_an_odd_store_url_is_one_line_and_creates_nothing(
    value: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: `--db file:/x.db` wrote ./file:/x.db, `sqlite://u:pw@/x.db` ended in a
    SQLAlchemy traceback after making folders, and `--db ""` used the default store."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=re.escape(says)) as info:
        open_store(value)
    assert SECRET not in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_vlm_bench_db_is_checked_like_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VLM_BENCH_DB", "file:/x.db")
    with pytest.raises(UserError, match=r"^VLM_BENCH_DB file:/x\.db: unsupported database"):
        open_store(None)
    assert list(tmp_path.iterdir()) == []


def test_a_fifo_or_folder_given_as_the_store_is_refused_without_opening_it(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "store.db"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        engine_url(str(fifo))
    with pytest.raises(UserError, match="is a folder"):
        engine_url(f"sqlite:///{tmp_path}")
    assert engine_url(f"sqlite:///{tmp_path}/x.db").database == f"{tmp_path}/x.db"


def test_load_runs_of_an_empty_path_is_an_error_not_the_current_folder() -> None:
    """Regression: bench.load_runs("") read the working directory (an empty frame)."""
    with pytest.raises(UserError, match="load_runs: empty path"):
        load_runs("")


def test_a_run_whose_process_is_gone_is_stored_as_failed(tmp_path: Path) -> None:
    """A run.json left at "running" by a killed run is a failed run in the store and the
    frame; one whose process is alive stays running."""
    run_dir = _a_finished_run(tmp_path)
    run = read_run(run_dir)
    run.status = RunStatus.RUNNING
    write_run(run, run_dir)
    store = tmp_path / "s.db"
    with open_store(store) as opened:
        index_run(opened, run_dir / "run.json")
    assert set(load_runs(store)["run_status"]) == {"failed"}
    assert set(load_runs(run_dir)["run_status"]) == {"failed"}
    lock = {"pid": os.getpid(), "host": socket.gethostname(), "since": "now"}
    (run_dir / ".lock").write_text(json.dumps(lock))
    assert settled(run, run_dir) == {}
    with open_store(store) as opened:  # stored as failed: looked at again, now running
        assert index_run(opened, run_dir / "run.json") == "indexed"
    assert set(load_runs(store)["run_status"]) == {"running"}
    lock["pid"] = _dead_pid()
    (run_dir / ".lock").write_text(json.dumps(lock))
    assert "is gone" in settled(run, run_dir)["reason"]


def _dead_pid() -> int:
    """A pid no process has (counting down from the kernel's highest)."""
    top = int(Path("/proc/sys/kernel/pid_max").read_text())
    for pid in range(top - 1, 1, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise AssertionError("every pid is taken")


def test_prune_keeps_the_newest_of_each_scenario_or_drops_those_before_a_date() -> None:
    def run(key: int, scenario: str, started: str | None) -> StoredRun:
        return StoredRun(key, f"/r/{key}", scenario, parse_started(started))

    runs = [
        run(1, "a", "2026-01-01T10:00:00+00:00"),
        run(2, "a", "2026-03-01T10:00:00+01:00"),
        run(3, "a", None),
        run(4, "a", "2026-02-01T10:00:00Z"),
        run(5, "b", "2025-12-31T23:00:00-02:00"),  # 2026-01-01 01:00 UTC
    ]
    keys = lambda out: [r.key for r in out]  # noqa: E731
    assert keys(chosen(runs, PruneRule(keep=2))) == [1, 3]  # undated counts as the oldest
    assert keys(chosen(runs, PruneRule(keep=1))) == [1, 3, 4]
    assert keys(chosen(runs, PruneRule(keep=5))) == []
    assert keys(chosen(runs, PruneRule(before=parse_before("2026-01-01")))) == []
    assert keys(chosen(runs, PruneRule(before=parse_before("2026-01-01T02:00")))) == [5]
    assert keys(chosen(runs, PruneRule(before=parse_before("2026-02-15")))) == [1, 4, 5]
    with pytest.raises(UserError, match="--before 'yesterday': not a date"):
        parse_before("yesterday")
