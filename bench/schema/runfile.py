"""The shape of a stored `run.json`, checked before anything reads it.

A run.json is input like any other: it may be truncated, edited by hand, written by
another tool or by an older vlm-bench. `read_run` upgrades an older schema version
(bench.schema.upgrade), then validates the file against the result types themselves
(bench.schema.results: pydantic dataclasses), or raises one `UserError` line naming the
file and the JSON path of the first bad field (`run.json: levels[2].ttft_avg_s: expected a
finite number, got null`). Absent optional fields are allowed (older files, published
runs); present ones must have their type. NaN and Infinity, which Python's json accepts,
are refused: a figure is a finite number or it is not a figure. Only a regular file of at
most MAX_RUN_BYTES is read (bench.safepath.read_regular), and every string in it is
bounded and its control characters escaped (bench.schema.text) before it is validated.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from bench.errors import UserError, describe_validation_error
from bench.safepath import MIB, UnreadableFile, read_regular
from bench.schema.results import SCHEMA_VERSION, RunResult, RunStatus
from bench.schema.scenario import Scenario
from bench.schema.text import bounded_tree
from bench.schema.upgrade import upgrade

_ADAPTER = TypeAdapter(RunResult)
# A measured run of 100 levels with every view is well under 1 MiB; 64 MiB is not a run.
MAX_RUN_BYTES = 64 * MIB


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


_EXPECTED = {
    "float_type": "a finite number",
    "finite_number": "a finite number",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dataclass_type": "an object",
    "list_type": "a list",
}


def _problem(err: ErrorDetails) -> str:
    """pydantic's first error in the words the rest of vlm-bench uses."""
    kind, got = err["type"], _shown(err.get("input"))
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "field required"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return "unknown field"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    if kind == "enum":
        return f"expected one of {ctx.get('expected', '')}, got {got}".replace("'", "")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        what = "an integer" if isinstance(err.get("input"), int) else "a number"
        bound = next(iter(ctx.items()), ("", ""))
        sign = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}.get(bound[0], "")
        if sign in ("<=", "<") and what == "a number":
            return f"expected a finite number, got {got}"
        return f"expected {what} {sign} {bound[1]:g}, got {got}"
    return str(err["msg"])


def _where(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _finite(text_: str) -> float:
    value = float(text_)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text_[:40]}")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def load(path: Path) -> Any:
    """The JSON value of a file: a regular file of at most MAX_RUN_BYTES, UTF-8, finite
    numbers only; UserError otherwise (a FIFO or device is refused before it is read)."""
    if not os.path.lexists(path):
        raise UserError(f"{path}: no such run (expected a run directory with run.json)")
    try:
        raw = read_regular(path, MAX_RUN_BYTES, "run.json")
    except UnreadableFile as exc:
        raise UserError(f"{path}: unreadable run.json: {exc.reason}") from None
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(content, parse_constant=_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: unreadable run.json: {exc}") from None
    except ValueError as exc:  # our NaN/Infinity refusals, over-long integers
        raise UserError(f"{path}: unreadable run.json: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise UserError(f"{path}: unreadable run.json: nested too deeply") from None


# The offline summary's keys before it took the metric registry's names (runs written then
# keep loading: the reader renames them).
_OFFLINE_RENAMED = {
    "requests_per_s": "rps",
    "output_tokens_per_s": "output_tok_s",
    "total_tokens_per_s": "total_tok_s",
}


def _offline_upgraded(data: Any) -> Any:
    """`data` with a stored offline summary's old key names replaced by the registry's."""
    offline = data.get("offline") if isinstance(data, dict) else None
    if not isinstance(offline, dict) or not any(k in offline for k in _OFFLINE_RENAMED):
        return data
    return {**data, "offline": {_OFFLINE_RENAMED.get(k, k): v for k, v in offline.items()}}


def check(data: Any, path: Path) -> RunResult:
    """The run `data` holds, validated by the result types (bench.schema.results); else
    UserError naming `path` and the first bad field by its JSON path. The scenario block
    is validated first, as a scenario file would be; an offline summary's old key names
    are read as the new ones."""
    data = _offline_upgraded(data)
    if not isinstance(data, dict):
        raise UserError(f"{path}: (top level): expected an object, got {_shown(data)}")
    if "scenario" not in data:
        raise UserError(f"{path}: scenario: field required")
    if not isinstance(data["scenario"], dict):
        raise UserError(f"{path}: scenario: expected an object, got {_shown(data['scenario'])}")
    try:
        scenario = Scenario.model_validate(data["scenario"])
    except ValidationError as exc:
        line = describe_validation_error("-", exc, Scenario).removeprefix("-: ")
        raise UserError(f"{path}: scenario.{line}") from None
    # A run written before runs recorded their status finished (no partial runs then).
    data = {"status": RunStatus.COMPLETE, **data, "scenario": scenario}
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UserError(f"{path}: {_where(err['loc']) or '(top level)'}: {_problem(err)}") from None


def read_run(run_dir: Path) -> RunResult:
    """A stored run; UserError (one line: file and field) for anything that is not one."""
    path = run_dir / "run.json" if run_dir.is_dir() else run_dir
    # Every string bounded and its control characters escaped (bench.schema.text): what
    # reaches a page, a table, the store or an error line stays small and one line.
    data = bounded_tree(load(path))
    if not isinstance(data, dict) or "levels" not in data or "run_id" not in data:
        raise UserError(f"{path}: not a vlm-bench run.json (missing run_id/levels)")
    data = upgrade(data, SCHEMA_VERSION)
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UserError(
            f"{path}: schema_version {version!r} is not supported "
            f"(this vlm-bench reads 1 to {SCHEMA_VERSION})"
        )
    return check(data, path)
