"""Per-request records: the `requests` table (one row per measured request of a run,
from its requests.parquet; bench/store/requests.py).

Revision ID: r0002
Revises: r0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0002"
down_revision = "r0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("run_key", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE")),
        sa.Column("seq", sa.Integer),
        *(
            sa.Column(n, sa.Integer, nullable=False)
            for n in ("level_index", "repeat", "worker", "round")
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_s", sa.Double, nullable=False),
        sa.Column("end_s", sa.Double, nullable=False),
        sa.Column("ttft_s", sa.Double),
        sa.Column("tpot_s", sa.Double),
        sa.Column("itl_s", sa.Text, nullable=False),
        sa.Column("latency_s", sa.Double),
        sa.Column("prompt_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("request_sha", sa.Text),
        sa.PrimaryKeyConstraint("run_key", "seq"),
    )


def downgrade() -> None:
    op.drop_table("requests")
