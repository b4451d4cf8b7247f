"""Shared fixtures: an isolated cache for the generated tokenizer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.tools.tokenizer import ensure_tokenizer


@pytest.fixture(scope="session")
def tokenizer_dir() -> Path:
    """The project's generated tokenizer (trained once per cache, reused after)."""
    return ensure_tokenizer()


def pytest_configure(config: pytest.Config) -> None:
    # Keep generated files inside the checkout unless the caller chose a cache.
    os.environ.setdefault("VLM_BENCH_CACHE", str(Path(__file__).parent.parent / ".cache"))
