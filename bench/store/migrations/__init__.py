"""The store's Alembic migrations, run by bench.store.db on every open (no alembic.ini):
env.py, and one script per schema change in versions/."""
