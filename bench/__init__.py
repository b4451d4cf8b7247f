"""vlm-bench: performance benchmarking of vision-language-model serving.

`bench.load_runs(db_or_dir)` gives the tidy pandas frame of many runs (bench.store.frame,
docs/store.md); it is loaded on first use, so `import bench` stays light and this base
module imports no layer above it at import time.
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`bench.load_runs`, imported on first access (PEP 562)."""
    if name == "load_runs":
        # The one allowed import up the layers (tests/unit/test_layers.py: LAZY_EXPORTS).
        from bench.store.frame import load_runs

        return load_runs
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
