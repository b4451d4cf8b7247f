"""The results store's test databases: a fresh SQLite file, or a fresh database on the
PostgreSQL server that `run_bench.sh test` starts (.ci/postgres.sh, VLM_BENCH_TEST_PG).

Without VLM_BENCH_TEST_PG the PostgreSQL half of a test is skipped locally, and fails
under CI=true: CI must never pass by skipping it.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.paths import REFERENCE, RUNS

PG_ENV = "VLM_BENCH_TEST_PG"
BACKENDS = ("sqlite", "postgresql")


def postgres_server() -> str:
    """VLM_BENCH_TEST_PG; skip without it, or fail when CI=true."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        why = f"{PG_ENV} is not set (./run_bench.sh test starts a PostgreSQL and sets it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {why}")
        pytest.skip(why)
    return url


def _engine_url(url: str) -> sa.URL:
    return sa.make_url(url).set(drivername="postgresql+psycopg")


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty database on the test server (its URL); dropped afterwards."""
    server = _engine_url(postgres_server())
    name = f"vlmb_{secrets.token_hex(6)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def fresh_store(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL (or path) of a new, empty store of `backend` ("sqlite" or "postgresql")."""
    if backend == "sqlite":
        yield str(tmp_path / "store" / "vlm-bench.db")
    else:
        with fresh_postgres() as url:
            yield url


def stored_runs(tmp_path: Path) -> Path:
    """A folder of real runs to index: the stored simulator runs (tests/data/runs, one of
    schema version 1) and the shipped published tables (reports/reference)."""
    root = tmp_path / "runs"
    shutil.copytree(RUNS, root / "sim", ignore=shutil.ignore_patterns("*.md"))
    shutil.copytree(REFERENCE, root / "reference", ignore=shutil.ignore_patterns("*.md"))
    return root
