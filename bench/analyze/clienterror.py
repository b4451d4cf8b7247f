"""The client's own error, as judgement: its model, the cache's matching rule, and the
"client error" validity check. Pure: no I/O (the cache file is bench/measure/clienterror.py's).

A calibration (bench/measure/calibrate.py) runs a level's shape against the simulator with
fixed timings and pairs each request evalscope recorded with the simulator's trace line
of the same request (`request_sha`): the request's error is the client's TTFT minus the
server's (first token written − request arrived), and likewise for TPOT. A level's TPOT
error is an upper bound on the mean: mean + 2 standard errors over the paired requests (one
sided, about 97.5 % under a normal approximation). Its TTFT error is the largest such
bound of the calibration's waves: the requests of one wave start together and wait on one
another, so their errors move together and one wave's mean differs from the next one's
by more than its requests' spread says (measured here at conc 64: 3.1, 2.0, 0.9 and 1.7 ms
in four waves of one level); the worst of several waves bounds a level's mean where one
wave's bound fell below it. "client error ≤ x ms" errs on the side of flagging.

A cache entry holds the level's shape (everything that sets the client's work:
concurrency, image size and count, prompt and output lengths, endpoint, rate) and the
timings it was measured at; a level reuses the nearest entry of the same shape whose TTFT
and TPOT are within `TTFT_MATCH` and `TPOT_MATCH` of its own, since a server's timings vary
from run to run.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from bench.schema.metrics import DISPLAY_SCALE
from bench.schema.results import Check, CheckStatus, LevelResult
from bench.schema.scenario import Scenario, ValiditySpec
from bench.schema.views import ClientView

# Relative distance of TTFT and TPOT within which an entry is reused: the client's work
# follows the token rate (TPOT) closely and TTFT only loosely, and a server's TTFT at a
# given concurrency varies more from run to run than its TPOT.
TTFT_MATCH = 0.5
TPOT_MATCH = 0.25
T = TypeVar("T")
NAME = "client error"  # the check's name
MS, SCALE = DISPLAY_SCALE["s"]
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


def estimate(ttft_waves: Sequence[Sequence[float]], tpot: Sequence[float]) -> ClientError | None:
    """The bounds from paired errors, TTFT's grouped by wave (module docstring): the
    largest of the waves' bounds for TTFT, the bound over all requests for TPOT; None
    without any pair."""
    waves = [wave for wave in ttft_waves if wave]
    if not waves:
        return None
    tpot_s = upper_bound(tpot) if tpot else None
    return ClientError(max(upper_bound(w) for w in waves), tpot_s, sum(map(len, waves)))


def waves(rows: Sequence[tuple[float, T]], parallel: int) -> list[list[T]]:
    """Items in the order of their start times (the first of each pair), cut into waves
    of `parallel` (a closed loop starts one wave as the previous one ends)."""
    ordered = [item for _, item in sorted(rows, key=lambda pair: pair[0])]
    size = max(parallel, 1)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def shape(scenario: Scenario, parallel: int, workload: str | None = None) -> dict[str, Any]:
    """What sets the client's work at one level (the cache's key, timings aside);
    `workload`: the fingerprint of its `workload:` section, if it has one."""
    load = scenario.load.model_dump(mode="json")
    # Load workers (one evalscope process each) split the level: their count is shape too.
    workers = {"workers": load["workers"]} if "workers" in load else {}
    # A workload's requests (their bytes, and the lean sender that sends them) replace
    # what load.dataset would draw: regression, a prepared level once reused a random_vl
    # level's bound ten to thirty times its own error.
    prepared = {"workload": workload} if workload is not None else {}
    return {"parallel": parallel, **{k: load[k] for k in SHAPE_FIELDS}, **workers, **prepared}


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


def check(level: LevelResult, client: ClientView, limits: ValiditySpec) -> list[Check]:
    """The load generator's own TTFT error at this level's shape, measured against a
    server with known timings (bench/measure/calibrate.py): flagged above the larger of
    `max_client_error_ratio` of the level's mean TTFT and `max_client_error_s`. Only
    calibrated levels carry this check, so the others keep the checks they always had."""
    error = client.ttft_error_s
    if error is None:
        return []
    ttft = level.ttft_avg_s
    tolerance = max(limits.max_client_error_ratio * ttft, limits.max_client_error_s)
    share = f" ({100 * error / ttft:.1f} %)" if ttft > 0 else ""
    if error > tolerance:
        detail = (
            f"the client added up to {SCALE * error:.1f} {MS} to the mean TTFT of "
            f"{SCALE * ttft:.1f} {MS}{share}, more than the tolerance of "
            f"{SCALE * tolerance:.1f} {MS} (the larger of "
            f"{100 * limits.max_client_error_ratio:g} % of TTFT and "
            f"{SCALE * limits.max_client_error_s:g} {MS})"
        )
        return [Check(NAME, CheckStatus.FLAG, detail)]
    detail = f"client error ≤ {SCALE * error:.1f} {MS} of TTFT {SCALE * ttft:.1f} {MS}{share}"
    if client.tpot_error_s is not None:
        detail += f", TPOT ≤ {SCALE * client.tpot_error_s:.2f} {MS}"
    return [Check(NAME, CheckStatus.OK, detail)]
