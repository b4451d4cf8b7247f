"""The results store: an index of run folders in SQLite (embedded, the default) or
PostgreSQL, and the tidy pandas frame of many runs (docs/store.md).

Runs (their run.json) are the source of truth; the database is an index that can always
be rebuilt with `vlm-bench db index`. This package imports only schema, analyze and base;
pandas is imported by bench.store.frame alone, so indexing at the end of a run does not
pay for it.
"""
