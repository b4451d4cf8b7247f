"""vlm-bench: performance benchmarking of vision-language-model serving.

`bench.load_runs(db_or_dir)` gives the tidy pandas frame of many runs (bench.store.frame,
docs/store.md), `bench.load_requests(db_or_dir)` their per-request records
(bench.store.requests); each is loaded on first use, so `import bench` stays light and this base
module imports no layer above it at import time.
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`bench.load_runs` and `bench.load_requests`, imported on first access (PEP 562)."""
    # The only imports up the layers (tests/unit/test_layers.py: LAZY_EXPORTS).
    if name == "load_runs":
        from bench.store.frame import load_runs

        return load_runs
    if name == "load_requests":
        from bench.store.requests import load_requests

        return load_requests
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
