"""The first store schema: runs, levels, level_metrics, level_checks.

Revision ID: r0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None

_LEVEL = ("run_key", "position")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_dir", sa.Text, nullable=False, unique=True),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("scenario_name", sa.Text, nullable=False),
        sa.Column("scenario_hash", sa.Text, nullable=False),
        sa.Column("hardware", sa.Text, nullable=False),
        sa.Column("backend", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        *(sa.Column(name, sa.Text) for name in ("host", "started_at", "ended_at", "commit")),
        sa.Column("dirty", sa.Boolean),
        *(sa.Column(name, sa.Text) for name in _PROVENANCE_TEXT),
        sa.Column("published", sa.Boolean, nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("digest", sa.Text, nullable=False),
        sa.Column("indexed_at", sa.Text, nullable=False),
    )
    op.create_index("ix_runs_run_id", "runs", ["run_id"])
    op.create_table(
        "levels",
        sa.Column("run_key", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE")),
        sa.Column("position", sa.Integer),
        *(sa.Column(n, sa.Integer, nullable=False) for n in ("index", "parallel", "number")),
        sa.Column("repeat", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("trusted", sa.Boolean, nullable=False),
        sa.Column("started_at", sa.Text, nullable=False),
        sa.Column("finished_at", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint(*_LEVEL),
    )
    op.create_table(
        "level_metrics",
        sa.Column("run_key", sa.Integer),
        sa.Column("position", sa.Integer),
        sa.Column("metric", sa.Text),
        sa.Column("value", sa.Double),
        sa.PrimaryKeyConstraint(*_LEVEL, "metric"),
        sa.ForeignKeyConstraint(_LEVEL, [f"levels.{c}" for c in _LEVEL], ondelete="CASCADE"),
    )
    op.create_table(
        "level_checks",
        sa.Column("run_key", sa.Integer),
        sa.Column("position", sa.Integer),
        sa.Column("seq", sa.Integer),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint(*_LEVEL, "seq"),
        sa.ForeignKeyConstraint(_LEVEL, [f"levels.{c}" for c in _LEVEL], ondelete="CASCADE"),
    )


_PROVENANCE_TEXT = ("server_version", "evalscope", "vlm_bench", "accelerators")


def downgrade() -> None:
    for table in ("level_checks", "level_metrics", "levels", "runs"):
        op.drop_table(table)
