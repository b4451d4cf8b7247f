"""A run on disk: run.json and levels.csv, each replaced whole or not at all.

`write_run` is called after every level, so an interrupted sweep keeps what it finished.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from dataclasses import fields
from pathlib import Path

from bench.redact import scrub
from bench.schema.metrics import BY_KEY
from bench.schema.results import OPTIONAL_FIGURES, LevelResult, RunResult

# Accelerator telemetry (LevelResult.telemetry), last: column -> the view's field. Empty
# where the level has none.
TELEMETRY_COLUMNS = {
    "accel_util_mean_pct": "util_mean_pct",
    "accel_power_mean_w": "power_mean_w",
    "accel_energy_j": "energy_j",
    "energy_per_token_j": "energy_per_token_j",
    "output_tok_per_j": "output_tok_per_j",
}
CSV_FIELDS = [
    f.name
    for f in fields(LevelResult)
    if f.name
    not in (
        "diagnostics",
        "server",
        "client",
        "checks",
        "telemetry",
        "workload",
        "steady",
        "precision",
    )
    and f.name not in OPTIONAL_FIGURES
] + ["success_rate", "tokens_honoured", "flags", *TELEMETRY_COLUMNS]


def levels_csv(run: RunResult) -> str:
    """One row per level; a published run leaves the metrics its table lacks empty."""
    out = io.StringIO()
    rows = run.to_dict()["levels"]
    # A rate sweep's rate and the goodput (with an SLO) are columns only where a level
    # holds them, so files of runs without them keep their bytes.
    names = [*CSV_FIELDS, *(k for k in OPTIONAL_FIGURES if any(k in row for row in rows))]
    writer = csv.DictWriter(out, fieldnames=["run_id", *names], lineterminator="\n")
    writer.writeheader()
    published = run.provenance.published
    absent = (
        {k for k in BY_KEY if k not in published.metrics}
        | {"duration_s", "input_tokens_avg", "output_tokens_avg"}
        if published
        else set()
    )
    for row in rows:
        row["flags"] = "; ".join(row["flags"])
        telemetry = row.get("telemetry", {})
        row.update({col: telemetry.get(key, "") for col, key in TELEMETRY_COLUMNS.items()})
        cells = {k: "" if k in absent else row.get(k, "") for k in names}
        writer.writerow({"run_id": run.run_id, **cells})
    return out.getvalue()


def _atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` whole or not at all: a temp file beside it, fsync, rename.
    On any failure (disk full, Ctrl-C) the temp file is removed and `path` is untouched;
    an OSError names `path`, whichever step failed. The text passes the one sink redaction
    (bench.redact.scrub) first: a reason quoting a library's error may hold a secret."""
    text = scrub(text)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        exc.filename = exc.filename or str(path)
        raise
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _umask_mode())  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            exc.filename = str(path)  # the temp file's name would mean nothing to the user
        raise


def _umask_mode() -> int:
    """0o666 less the process umask: the mode open() would have given a new file.
    (The umask can only be read by setting it; it is put back at once.)"""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, text: str) -> None:
    """Replace a result file (report.md, …) whole or not at all; see `_atomic_write`."""
    _atomic_write(path, text)


def write_run(run: RunResult, run_dir: Path) -> None:
    """run.json and levels.csv, each replaced atomically."""
    _atomic_write(run_dir / "run.json", json.dumps(run.to_dict(), indent=2) + "\n")
    _atomic_write(run_dir / "levels.csv", levels_csv(run))
