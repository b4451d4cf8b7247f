"""The client's own error: its model (pure), and the cache of measured errors.

A calibration (bench/measure/calibrate.py) runs a level's shape against the simulator with
fixed timings and pairs each request evalscope recorded with the simulator's trace line
of the same request (`request_sha`): the request's error is the client's TTFT minus the
server's (first token written − request arrived), and likewise for TPOT. A level's error
is an upper bound on the mean: mean + 2 standard errors over the paired requests (one
sided, about 97.5 % under a normal approximation), so "client error ≤ x ms" errs on the
side of flagging.

The cache is one JSON file per client host, vlm-bench version and evalscope version under
`$VLM_BENCH_CACHE/client-error/` (else ~/.cache/vlm-bench/client-error/). An entry holds
the level's shape (everything that sets the client's work: concurrency, image size and
count, prompt and output lengths, endpoint, rate) and the timings it was measured at; a
level reuses the nearest entry of the same shape whose TTFT and TPOT are within
`TTFT_MATCH` and `TPOT_MATCH` of its own, since a server's timings vary from run to run.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.schema.scenario import Scenario

log = logging.getLogger(__name__)

# Relative distance of TTFT and TPOT within which an entry is reused: the client's work
# follows the token rate (TPOT) closely and TTFT only loosely, and a server's TTFT at a
# given concurrency varies more from run to run than its TPOT.
TTFT_MATCH = 0.5
TPOT_MATCH = 0.25
CACHE_DIR = "client-error"
SHAPE_FIELDS = (
    "endpoint",
    "dataset",
    "image_width",
    "image_height",
    "image_num",
    "image_format",
    "min_prompt_length",
    "max_prompt_length",
    "prefix_length",
    "min_tokens",
    "max_tokens",
    "ignore_eos",
    "stream",
    "rate",
)


@dataclass(frozen=True)
class ClientError:
    """Upper bounds (s) on the client's share of a level's mean TTFT and TPOT."""

    ttft_s: float
    tpot_s: float | None
    requests: int  # paired requests the bounds come from


def upper_bound(values: Sequence[float]) -> float:
    """mean + 2 standard errors (sample standard deviation; 0 for one value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean
    return mean + 2 * statistics.stdev(values) / math.sqrt(len(values))


def paired_errors(
    client: Iterable[tuple[str | None, float | None, float | None]],
    server: Mapping[str, tuple[float, float | None]],
) -> tuple[list[float], list[float]]:
    """Per request, client minus server TTFT and TPOT. `client`: (request_sha, TTFT, TPOT)
    of the requests evalscope recorded; `server`: request_sha → (TTFT, TPOT) from the
    trace. Requests without a partner (failed, unrecorded) are left out."""
    ttft, tpot = [], []
    for sha, c_ttft, c_tpot in client:
        if sha is None or c_ttft is None or sha not in server:
            continue
        s_ttft, s_tpot = server[sha]
        ttft.append(c_ttft - s_ttft)
        if c_tpot is not None and s_tpot is not None:
            tpot.append(c_tpot - s_tpot)
    return ttft, tpot


def estimate(ttft: Sequence[float], tpot: Sequence[float]) -> ClientError | None:
    """The bounds from paired errors; None without any pair."""
    if not ttft:
        return None
    return ClientError(upper_bound(ttft), upper_bound(tpot) if tpot else None, len(ttft))


def shape(scenario: Scenario, parallel: int) -> dict[str, Any]:
    """What sets the client's work at one level (the cache's key, timings aside)."""
    load = scenario.load.model_dump(mode="json")
    # Load workers (one evalscope process each) split the level: their count is shape too.
    workers = {"workers": load["workers"]} if "workers" in load else {}
    return {"parallel": parallel, **{k: load[k] for k in SHAPE_FIELDS}, **workers}


def cache_file(root: Path, host: str, harness: str, evalscope: str) -> Path:
    """One file per client host, vlm-bench version and evalscope version."""
    name = "-".join(re.sub(r"[^A-Za-z0-9._]+", "_", part) for part in (host, harness, evalscope))
    return root / CACHE_DIR / f"{name[:200]}.json"


def _close(a: float, b: float, match: float) -> bool:
    return abs(a - b) <= match * max(abs(a), abs(b), 1e-9)


def lookup(
    entries: Sequence[Mapping[str, Any]], key: Mapping[str, Any], ttft_s: float, tpot_s: float
) -> ClientError | None:
    """The entry of this shape measured nearest these timings (both within the timing match)."""
    fits = [e for e in entries if e.get("shape") == dict(key) and _near(e, ttft_s, tpot_s)]
    if not fits:
        return None
    best = min(
        fits,
        key=lambda e: abs(math.log(e["ttft_s"] / ttft_s)) + abs(math.log(e["tpot_s"] / tpot_s)),
    )
    return ClientError(**best["error"])


def _near(e: Mapping[str, Any], ttft_s: float, tpot_s: float) -> bool:
    return _close(e["ttft_s"], ttft_s, TTFT_MATCH) and _close(e["tpot_s"], tpot_s, TPOT_MATCH)


def entry(
    key: Mapping[str, Any], ttft_s: float, tpot_s: float, error: ClientError
) -> dict[str, Any]:
    return {"shape": dict(key), "ttft_s": ttft_s, "tpot_s": tpot_s, "error": asdict(error)}


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


def replace_entry(
    entries: Sequence[Mapping[str, Any]], new: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """`entries` without any of the same shape within the timing match of `new`, plus `new`."""
    kept = [
        dict(e)
        for e in entries
        if not (e.get("shape") == new["shape"] and _near(e, new["ttft_s"], new["tpot_s"]))
    ]
    return [*kept, dict(new)]
