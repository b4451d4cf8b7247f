"""A workload's fingerprint: the content hash of its sources plus its shape settings.

Two runs compare only when they sent the same thing: the same pictures, requests or
trace (by content, wherever the files lie) shaped the same way (sizes, images per
request, reuse, text). Paths are left out, so a moved folder keeps its fingerprint; a
re-encoded photo or a changed reuse ratio changes it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.schema.scenario_workload import (
    DatasetSource,
    ImagesSource,
    WorkloadSpec,
    without_later_defaults,
)
from bench.workload import sources

CHUNK = 1 << 20


def fingerprint(spec: WorkloadSpec, base: Path) -> str:
    """`wl-` and 16 hex digits of SHA-256 over the sources' bytes and the shape."""
    h = hashlib.sha256()
    shape = without_later_defaults(spec.model_dump(mode="json"))
    shape["source"].pop("path", None)
    h.update(json.dumps(shape, sort_keys=True, ensure_ascii=False).encode())
    for path in _source_files(spec, base):
        h.update(b"\0file\0")
        _hash_file(h, path)
    return "wl-" + h.hexdigest()[:16]


def _source_files(spec: WorkloadSpec, base: Path) -> list[Path]:
    source = spec.source
    if isinstance(source, ImagesSource):
        return sources.image_files(source, base)
    path = sources.resolve(source.path, base)
    if isinstance(source, DatasetSource) and path.is_dir():
        return sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix in {".arrow", ".parquet"}
        )
    return [path]


def _hash_file(h: Any, path: Path) -> None:
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
    except OSError as exc:
        raise UserError(
            f"workload.source.path {path}: cannot read ({exc.strerror or exc})"
        ) from None
