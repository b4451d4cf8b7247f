"""The workload a run sent: `runs.workload_fingerprint` (`wl-` + 16 hex; NULL for a run
without a `workload:` section), so that history and the dashboard's trends keep runs of
different workloads apart.

Rows indexed before this revision are back-filled from their run.json where it is still
the file that was indexed (on this machine, with the stored SHA-256): its provenance's
fingerprint, else (a run made before provenance kept it) its first level's, as
bench.analyze.compare.workload_fingerprint reads it. A row whose run.json is gone from
this machine, or changed since, keeps NULL and loses its digest, so the next
`vlm-bench db index` of its folder writes it again, fingerprint and all. The file is read
as plain JSON here, not through the result model: a migration must keep meaning what it
meant when it was written.

Revision ID: r0003
Revises: r0002
Create Date: 2026-12-09
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "r0003"
down_revision = "r0002"
branch_labels = None
depends_on = None

MAX_RUN_BYTES = 64 * 1024 * 1024  # as bench.schema.runfile reads a run.json
_RUNS = sa.table(
    "runs",
    sa.column("id", sa.Integer),
    sa.column("run_dir", sa.Text),
    sa.column("digest", sa.Text),
    sa.column("workload_fingerprint", sa.Text),
)


def _file(run_dir: object, digest: object) -> bytes | None:
    """The run.json of `run_dir` when it is the very file that was indexed, else None."""
    if not isinstance(run_dir, str) or not isinstance(digest, str) or not digest:
        return None
    path = Path(run_dir) / "run.json"
    try:
        if not path.is_file() or path.stat().st_size > MAX_RUN_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == digest else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def fingerprint(doc: Any) -> tuple[bool, str | None]:
    """(readable, fingerprint) of a run.json document: the provenance's fingerprint of a
    `workload:` run, else its first level's that has one; (True, None) for a run without
    a workload section; (False, None) for a document that is not a run."""
    if not isinstance(doc, dict) or not isinstance(doc.get("scenario"), dict):
        return False, None
    if not doc["scenario"].get("workload"):
        return True, None
    provenance = doc.get("provenance")
    if isinstance(provenance, dict) and (found := _text(provenance.get("workload_fingerprint"))):
        return True, found
    levels = doc.get("levels")
    for level in levels if isinstance(levels, list) else []:
        record = level.get("workload") if isinstance(level, dict) else None
        if isinstance(record, dict) and (found := _text(record.get("fingerprint"))):
            return True, found
    return True, None


def upgrade() -> None:
    op.add_column("runs", sa.Column("workload_fingerprint", sa.Text))
    conn = op.get_bind()
    rows = conn.execute(sa.select(_RUNS.c.id, _RUNS.c.run_dir, _RUNS.c.digest)).all()
    for key, run_dir, digest in rows:
        data = _file(run_dir, digest)
        try:
            readable, found = fingerprint(json.loads(data)) if data is not None else (False, None)
        except ValueError:
            readable, found = False, None
        if not readable:  # written again, fingerprint and all, by the next `db index`
            conn.execute(sa.update(_RUNS).where(_RUNS.c.id == key).values(digest=""))
        elif found is not None:
            conn.execute(
                sa.update(_RUNS).where(_RUNS.c.id == key).values(workload_fingerprint=found)
            )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("workload_fingerprint")
