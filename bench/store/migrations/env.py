"""Alembic's environment for the store: always online, on the connection that
bench.store.db.migrate hands over in `config.attributes["connection"]`."""

from __future__ import annotations

from alembic import context

from bench.store.tables import METADATA

connection = context.config.attributes["connection"]
# Batch mode: SQLite cannot ALTER most things in place; Alembic copies the table instead.
context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
