"""Indexing a run as `vlm-bench run` ends: into the default store, quietly.

The store named by VLM_BENCH_DB, else `vlm-bench.db` beside the run folders
(`<output_dir>/vlm-bench.db`: reports/vlm-bench.db by default). VLM_BENCH_DB=off turns
it off. Whatever goes wrong (a locked or unreachable database, a disk full) is one
warning on stderr: the run and its exit code are never affected; `vlm-bench db index`
catches up later.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from bench.errors import UserError
from bench.store.db import ENV, OFF, configured, open_store, reason, shown
from bench.store.index import RUN_FILE, index_run

log = logging.getLogger(__name__)
STORE_FILE = "vlm-bench.db"


def default_store_for(run_dir: Path) -> str:
    """VLM_BENCH_DB, else the file beside the run folders (`<output_dir>/<scenario>/<id>`)."""
    return configured() or str(run_dir.resolve().parent.parent / STORE_FILE)


def enabled() -> bool:
    return os.environ.get(ENV, "").strip().lower() != OFF


def index_finished_run(run_dir: Path, store_dir: Path | None = None) -> None:
    """Index the run in `run_dir` into its default store (VLM_BENCH_DB, else the file in
    `store_dir`, else beside the run folders); a failure is only a warning."""
    if not enabled() or not (run_dir / RUN_FILE).is_file():
        return
    where = configured() or (
        str(store_dir / STORE_FILE) if store_dir is not None else default_store_for(run_dir)
    )
    try:
        with open_store(where, flag="VLM_BENCH_DB" if configured() else "store") as store:
            index_run(store, run_dir / RUN_FILE)
    except UserError as exc:
        log.warning("run not indexed (vlm-bench db index retries): %s", exc)
    except Exception as exc:  # the run is kept whatever the store does
        log.warning(
            "run not indexed into %s (vlm-bench db index retries): %s: %s",
            shown(where),
            type(exc).__name__,
            reason(exc, where),
        )
