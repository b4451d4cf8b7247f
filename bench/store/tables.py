"""The store's tables (SQLAlchemy Core), as the newest migration leaves them.

The migrations in bench/store/migrations/versions create and change these tables; this
module is what the code reads and writes through. A change here needs a new migration
(docs/store.md, "Migrations").

Every run is one `runs` row, keyed by its folder (`run_dir`, absolute): the same run_id
can sit in two folders (a baseline is a copy of a run). A level is `(run_key, position)`,
its place in run.json's `levels`, because old runs may repeat (index, repeat) pairs.
"""

from __future__ import annotations

import sqlalchemy as sa

# The newest migration (bench/store/migrations/versions): a store at it needs no Alembic.
HEAD = "r0003"

METADATA = sa.MetaData()

RUNS = sa.Table(
    "runs",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_dir", sa.Text, nullable=False, unique=True),
    sa.Column("run_id", sa.Text, nullable=False, index=True),
    sa.Column("scenario_name", sa.Text, nullable=False),
    sa.Column("scenario_hash", sa.Text, nullable=False),
    # What a `workload:` run sent (`wl-` + 16 hex, bench/workload/fingerprint.py); NULL:
    # a run without a workload section. History keeps runs of different ones apart.
    sa.Column("workload_fingerprint", sa.Text),
    sa.Column("hardware", sa.Text, nullable=False),
    sa.Column("backend", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("host", sa.Text),
    sa.Column("started_at", sa.Text),
    sa.Column("ended_at", sa.Text),
    sa.Column("commit", sa.Text),
    sa.Column("dirty", sa.Boolean),
    sa.Column("server_version", sa.Text),
    sa.Column("evalscope", sa.Text),
    sa.Column("vlm_bench", sa.Text),
    sa.Column("accelerators", sa.Text),
    sa.Column("published", sa.Boolean, nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("digest", sa.Text, nullable=False),
    sa.Column("indexed_at", sa.Text, nullable=False),
)

LEVELS = sa.Table(
    "levels",
    METADATA,
    sa.Column("run_key", sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("index", sa.Integer, nullable=False),
    sa.Column("parallel", sa.Integer, nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("repeat", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("trusted", sa.Boolean, nullable=False),
    sa.Column("started_at", sa.Text, nullable=False),
    sa.Column("finished_at", sa.Text, nullable=False),
)

LEVEL_METRICS = sa.Table(
    "level_metrics",
    METADATA,
    sa.Column("run_key", sa.Integer, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("metric", sa.Text, primary_key=True),
    sa.Column("value", sa.Double),  # NULL: not defined (NaN)
    sa.ForeignKeyConstraint(
        ["run_key", "position"], ["levels.run_key", "levels.position"], ondelete="CASCADE"
    ),
)

LEVEL_CHECKS = sa.Table(
    "level_checks",
    METADATA,
    sa.Column("run_key", sa.Integer, primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),  # the check's place in the level's list
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.ForeignKeyConstraint(
        ["run_key", "position"], ["levels.run_key", "levels.position"], ondelete="CASCADE"
    ),
)

# One row per measured request (bench/schema/requests.py, the run's requests.parquet);
# `seq`: its place in that file. Its level is (level_index, repeat), as in run.json.
REQUESTS = sa.Table(
    "requests",
    METADATA,
    sa.Column("run_key", sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("level_index", sa.Integer, nullable=False),
    sa.Column("repeat", sa.Integer, nullable=False),
    sa.Column("worker", sa.Integer, nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("start_s", sa.Double, nullable=False),
    sa.Column("end_s", sa.Double, nullable=False),
    sa.Column("ttft_s", sa.Double),
    sa.Column("tpot_s", sa.Double),
    sa.Column("itl_s", sa.Text, nullable=False),  # a JSON list of seconds
    sa.Column("latency_s", sa.Double),
    sa.Column("prompt_tokens", sa.Integer),
    sa.Column("output_tokens", sa.Integer),
    sa.Column("stream", sa.Boolean, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("request_sha", sa.Text),
)

# Children first: the order rows of a run are deleted in.
CHILDREN = (REQUESTS, LEVEL_CHECKS, LEVEL_METRICS, LEVELS)
