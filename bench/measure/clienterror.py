"""The cache of measured client errors: one JSON file per client host, vlm-bench version and
evalscope version under `$VLM_BENCH_CACHE/client-error/` (else
~/.cache/vlm-bench/client-error/). The entries' model, their matching rule and the check
that judges a level by them are bench/analyze/clienterror.py's; this module only reads and
writes the file.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.analyze.clienterror import ClientError

log = logging.getLogger(__name__)

CACHE_DIR = "client-error"


def cache_file(root: Path, host: str, harness: str, evalscope: str) -> Path:
    """One file per client host, vlm-bench version and evalscope version."""
    name = "-".join(re.sub(r"[^A-Za-z0-9._]+", "_", part) for part in (host, harness, evalscope))
    return root / CACHE_DIR / f"{name[:200]}.json"


def read_cache(path: Path) -> list[dict[str, Any]]:
    """The file's entries; an unreadable or malformed file counts as empty (it is only a
    cache: the error is measured again and the file rewritten)."""
    try:
        data = json.loads(path.read_text())
        entries = data["entries"]
        for e in entries:
            ClientError(**e["error"])
            float(e["ttft_s"]), float(e["tpot_s"]), dict(e["shape"])
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s: ignoring the client-error cache (%s)", path, exc)
        return []
    return list(entries)


def write_cache(path: Path, entries: Sequence[Mapping[str, Any]]) -> None:
    """Atomically (temp file, then rename); a cache that cannot be written is only logged."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"entries": list(entries)}, indent=1))
        tmp.replace(path)
    except OSError as exc:
        log.warning("%s: could not write the client-error cache (%s)", path, exc)
