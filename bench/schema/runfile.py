"""The shape of a stored `run.json`, checked before anything reads it.

A run.json is input like any other: it may be truncated, edited by hand, written by
another tool or by an older vlm-bench. `parse` turns its text into the dict that
`RunResult.from_dict` takes, or raises one `UserError` line naming the file and the JSON
path of the first bad field (`run.json: levels[2].ttft_avg_s: expected a finite number,
got null`). Absent optional fields are allowed (older files, published runs); present ones
must have their type. NaN and Infinity, which Python's json accepts, are refused: a
figure is a finite number or it is not a figure.

The checks are a small declarative table (one `Spec` per field), kept in this one module
so that a typed result model (Step 10: pydantic) can replace it wholesale.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bench.errors import UserError, describe_validation_error
from bench.schema.results import (
    SCHEMA_VERSION,
    CheckStatus,
    LevelResult,
    LevelStatus,
    RunResult,
    RunStatus,
)
from bench.schema.scenario import Scenario
from bench.schema.upgrade import upgrade
from bench.schema.views import ClientView, ServerView

# An int beyond this is not a count anyone measured, and not exact as a float.
MAX_INT = 2**53


class _Bad(Exception):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem


Spec = Callable[[Any, str], None]  # (value, JSON path) -> None, or raise _Bad


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def number(minimum: float | None = None) -> Spec:
    def check(value: Any, at: str) -> None:
        # An int is checked by size before math.isfinite, which cannot convert 10**400.
        if (
            not _is_number(value)
            or (isinstance(value, int) and abs(value) > MAX_INT)
            or not math.isfinite(value)
            or abs(value) > 1e300
        ):
            raise _Bad(at, f"expected a finite number, got {_shown(value)}")
        if minimum is not None and value < minimum:
            raise _Bad(at, f"expected a number >= {minimum:g}, got {_shown(value)}")

    return check


def integer(minimum: int | None = None) -> Spec:
    def check(value: Any, at: str) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) > MAX_INT:
            raise _Bad(at, f"expected an integer, got {_shown(value)}")
        if minimum is not None and value < minimum:
            raise _Bad(at, f"expected an integer >= {minimum}, got {value}")

    return check


def text(allowed: tuple[str, ...] = ()) -> Spec:
    def check(value: Any, at: str) -> None:
        if not isinstance(value, str):
            raise _Bad(at, f"expected a string, got {_shown(value)}")
        if allowed and value not in allowed:
            raise _Bad(at, f"expected one of {', '.join(allowed)}, got {_shown(value)}")

    return check


def boolean(value: Any, at: str) -> None:
    if not isinstance(value, bool):
        raise _Bad(at, f"expected true or false, got {_shown(value)}")


def anything(value: Any, at: str) -> None:
    return None


def unknown(value: Any, at: str) -> None:
    raise _Bad(at, "unknown field")


def optional(spec: Spec) -> Spec:
    def check(value: Any, at: str) -> None:
        if value is not None:
            spec(value, at)

    return check


def list_of(item: Spec) -> Spec:
    def check(value: Any, at: str) -> None:
        if not isinstance(value, list):
            raise _Bad(at, f"expected a list, got {_shown(value)}")
        for i, element in enumerate(value):
            item(element, f"{at}[{i}]")

    return check


def mapping(
    required: dict[str, Spec] | None = None,
    optional_fields: dict[str, Spec] | None = None,
    values: Spec = anything,
) -> Spec:
    """An object: `required` keys must be there, `optional_fields` may be, and every
    other key's value must pass `values`."""
    need, may = required or {}, optional_fields or {}

    def check(value: Any, at: str) -> None:
        if not isinstance(value, dict):
            raise _Bad(at, f"expected an object, got {_shown(value)}")
        for key in need:
            if key not in value:
                raise _Bad(f"{at}.{key}", "field required")
        for key, element in value.items():
            spec = need.get(key) or may.get(key) or values
            spec(element, f"{at}.{key}")

    return check


def model(cls: type[BaseModel]) -> Spec:
    """An object the pydantic model `cls` accepts; its first error as one `_Bad` with the
    JSON path (`levels[0].server.samples: Input should be a valid integer`)."""

    def check(value: Any, at: str) -> None:
        if not isinstance(value, dict):
            raise _Bad(at, f"expected an object, got {_shown(value)}")
        try:
            cls.model_validate(value)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            problem = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            raise _Bad(at + where, problem) from None

    return check


# WorkerStat's fields (bench.schema.results), all of them written.
_WORKER = mapping(
    {k: integer(1) for k in ("worker", "parallel")}
    | {k: integer(0) for k in ("number", "seed", "rows")}
    | {"host": text(), "clock_offset_s": number(), "exit_code": optional(integer())}
    | {"cpu_mean": optional(number(0)), "start_delay_s": optional(number())},
    values=unknown,
)

# Diagnostics' fields; a key it lacks would be lost on reading, so it is refused.
_DIAGNOSTICS = mapping(
    optional_fields={
        "server_log_bytes": optional(list_of(integer(0))),
        "timed_out": optional(integer(0)),
        "request_timeout_s": optional(number(0)),
        "recorded_requests": optional(integer(0)),
        "undefined": optional(list_of(text())),
        "summary_check": optional(text()),
        "summary_mismatch": optional(text()),
        "percentile_check": optional(text()),
        "percentile_mismatch": optional(text()),
        "repeats": optional(integer(1)),
        "workers": optional(list_of(_WORKER)),
    },
    values=unknown,
)


def _level_spec() -> Spec:
    """LevelResult's fields, by their declared types (a new field gets checked too)."""

    by_type: dict[str, Spec] = {
        "int": integer(0),
        "float": number(),
        "str": text(),
        "int | None": optional(integer(0)),
        "dict[str, Any]": mapping(),
        "LevelStatus": text(tuple(LevelStatus)),
        "list[Check]": list_of(
            mapping({"name": text(), "status": text(tuple(CheckStatus)), "detail": text()})
        ),
        "Diagnostics": _DIAGNOSTICS,
        "ServerView": model(ServerView),
        "ClientView": model(ClientView),
    }
    required: dict[str, Spec] = {}
    optional_fields: dict[str, Spec] = {}
    for f in fields(LevelResult):
        spec = by_type.get(str(f.type))
        if spec is None:  # a field type this table does not know: extend it
            raise TypeError(f"runfile: no check for LevelResult.{f.name}: {f.type}")
        no_default = f.default is MISSING and f.default_factory is MISSING
        (required if no_default else optional_fields)[f.name] = spec
    # Ranges and shapes the readers rely on.
    required["parallel"] = required["number"] = integer(1)
    return mapping(required, optional_fields)


_PUBLISHED = mapping(
    {
        "source": text(),
        "table": text(),
        "sha256": text(),
        "scenario": text(),
        "metrics": list_of(text()),
    }
)
_STRINGS = mapping(values=optional(text()))
_PROVENANCE = mapping(
    optional_fields={
        "published": _PUBLISHED,
        "host": text(),
        "cpu": optional(text()),
        "cpu_count": optional(integer(0)),
        "packages": mapping(),
        "git": mapping(optional_fields={"commit": optional(text()), "dirty": anything}),
        "server_argv": list_of(text()),
        "server_env": mapping(),
        "started_at": text(),
        "ended_at": text(),
        "accelerators": mapping(),
        "ascend": mapping(),
        "server": mapping(),
    }
)
_INCIDENT = mapping(
    {"kind": text()},
    {
        "at": text(),
        "parallel": integer(0),
        "detail": optional(text()),
        "level": integer(0),
        "restarted": boolean,
        "level_reason": optional(text()),
        "log_tail": list_of(text()),
    },
)
_CHECK = mapping(
    {
        "mode": text(),
        "summary": text(),
        "latency_s": number(),
        "verdict": mapping({"warnings": list_of(text())}),
    },
)
_OFFLINE = mapping(
    {
        "requests": integer(0),
        "max_tokens": integer(0),
        "rps": number(0),
        "output_tok_s": number(1e-300),  # the report divides by it
        "generate_s": number(0),
        "init_s": number(0),
        "wrong_length": integer(0),
        "output_tokens_min": integer(0),
        "output_tokens_max": integer(0),
    },
    {"vllm_version": optional(text())},
)


def _run_spec() -> Spec:
    return mapping(
        {
            "run_id": text(),
            "scenario_name": text(),
            "scenario": mapping(),  # then validated as a Scenario (see parse)
            "scenario_hash": text(),
            "levels": list_of(_level_spec()),
        },
        {
            "provenance": _PROVENANCE,
            "status": text(tuple(RunStatus)),
            "reason": text(),
            "incidents": list_of(_INCIDENT),
            "check": optional(_CHECK),
            "offline": optional(_OFFLINE),
            "schema_version": anything,  # read_run says which versions it reads
        },
    )


def _finite(text_: str) -> float:
    value = float(text_)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text_[:40]}")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def load(path: Path) -> Any:
    """The JSON value of a file: UTF-8, finite numbers only; UserError otherwise."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: no such run (expected a run directory with run.json)") from None
    except OSError as exc:
        raise UserError(f"{path}: unreadable run.json: {exc.strerror}") from None
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


def check(data: Any, path: Path) -> dict[str, Any]:
    """`data` if it has the shape of a run, its scenario block as a Scenario model; else
    UserError naming `path` and the first bad field. An offline summary's old key names
    are read as the new ones."""

    data = _offline_upgraded(data)
    try:
        _run_spec()(data, "$")
    except _Bad as bad:
        where = bad.where.removeprefix("$").removeprefix(".") or "(top level)"
        raise UserError(f"{path}: {where}: {bad.problem}") from None
    try:
        scenario = Scenario.model_validate(data["scenario"])
    except ValidationError as exc:
        line = describe_validation_error("-", exc, Scenario).removeprefix("-: ")
        raise UserError(f"{path}: scenario.{line}") from None
    # Readers get the model (what it accepted, e.g. "512" as 512), never the raw block.
    return {**data, "scenario": scenario}


def read_run(run_dir: Path) -> RunResult:
    """A stored run; UserError (one line: file and field) for anything that is not one."""
    path = run_dir / "run.json" if run_dir.is_dir() else run_dir
    data = load(path)
    if not isinstance(data, dict) or "levels" not in data or "run_id" not in data:
        raise UserError(f"{path}: not a vlm-bench run.json (missing run_id/levels)")
    data = upgrade(data, SCHEMA_VERSION)
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UserError(
            f"{path}: schema_version {version!r} is not supported "
            f"(this vlm-bench reads 1 to {SCHEMA_VERSION})"
        )
    return RunResult.from_dict(check(data, path))
