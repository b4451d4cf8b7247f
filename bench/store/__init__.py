"""The results store: an index of run folders in SQLite (embedded, the default) or
PostgreSQL, and the tidy pandas frame of many runs (docs/store.md).

Runs (their run.json) are the source of truth; the database is an index that can always
be rebuilt with `vlm-bench db index`. This package imports only schema, analyze and base;
pandas is imported only where a frame is made or written (frame.py, requests.py,
formats.py, export.py), so indexing at the end of a run does not pay for it.
"""
