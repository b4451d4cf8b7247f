"""Shared pieces of the scenario models (bench/schema/scenario.py and its sections): the
bounds every field is checked against, the strict base model, and the JSON check for
free-form mappings. No I/O.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

GENERATED_TOKENIZER = "generated"  # model.tokenizer_path value: the project's own tokenizer


# Upper bounds far above any real sweep: they catch typos (an extra 000) and hostile values
# before evalscope or the server chokes on them hours into a run.
MAX_TOKENS = 1_000_000  # prompt and output lengths, in tokens
MAX_IMAGE_SIDE = 16_384  # pixels
MAX_IMAGES = 1_000  # per request
MAX_PARALLEL = 100_000
MAX_NUMBER = 10_000_000  # requests in one level (also warm-ups)
MAX_RATE = 1e6  # requests per second (sweep.rate)
MAX_REPEATS = 1_000
MAX_WORKERS = 256  # evalscope processes per level (load.workers)
MAX_SEED = 2**31 - 1  # leaves room for the per-level/-repeat offsets under numpy's 2**32
MAX_TIMEOUT_S = 7 * 86_400.0  # a week; every timing field is finite and at most this
MAX_NAME = 100  # scenario names become folder names


def json_only(value: dict[str, Any]) -> dict[str, Any]:
    """Free-form mappings go to evalscope and vLLM as JSON: refuse what JSON cannot say."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not JSON: {str(exc).splitlines()[0]}") from None
    if any(not isinstance(k, str) for k in _keys(value)):
        raise ValueError("not JSON: mapping keys must be strings")
    return value


def _keys(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


class Strict(BaseModel):
    # strict: YAML already gives typed values, so `true` as a concurrency or "8" as a port is
    # a mistake, not something to coerce; NaN and infinities are never a sensible setting.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
