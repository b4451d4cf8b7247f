"""Scenario files: YAML read safely, `extends:` resolved, `--set` overrides applied, then
validated into the typed `Scenario` (bench/schema/scenario.py).

`extends: other.yaml` (relative to the file) deep-merges this file over another. The
simulator's built-in profile names are passed to validation here, so the schema layer
never imports the simulator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench import redact
from bench.dotted import set_dotted
from bench.errors import UserError
from bench.safeyaml import check_values, load_file
from bench.schema.scenario import Scenario, describe_error
from bench.schema.scenario_server import PROFILES
from bench.sim.profile import builtin_profiles


def validate(data: Any, source: Path | str) -> Scenario:
    """`data` as a Scenario, the simulator profile checked; UserError in one line."""
    try:
        return Scenario.model_validate(data, context={PROFILES: builtin_profiles()})
    except ValidationError as exc:
        raise UserError(describe_error(Path(source), exc)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    # Size, encoding, duplicate keys, nesting, aliases, NUL, NaN, dates: bench/safeyaml.py.
    data = load_file(path, "scenario")
    if not isinstance(data, dict):
        raise UserError(
            f"{path}: a scenario must be a mapping of fields, got {type(data).__name__}"
        )
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, everything else is replaced.

    A mapping whose `kind` differs from the parent's (a docker server becoming a
    command) replaces it whole: the fields of one kind mean nothing to another.
    """
    out = dict(base)
    for key, value in over.items():
        if (
            isinstance(value, dict)
            and isinstance(out.get(key), dict)
            and value.get("kind", out[key].get("kind")) == out[key].get("kind")
        ):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    path = path.resolve()
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise UserError(f"{chain[0]}: extends: circular ({cycle})")
    data = _read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise UserError(f"{path}: extends: must be a file name, got {type(parent).__name__}")
    return _merge(_resolve(path.parent / parent, (*chain, path)), data)


def load_scenario(path: Path | str, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load, resolve `extends:`, apply dotted overrides, validate."""
    path = Path(path)
    data = _resolve(path, ())
    for key, value in (overrides or {}).items():
        check_values(value, "--set", key, sep=" ")
        set_dotted(data, key, value)
    # Every sink scrubs the scenario's secrets from here on (a library's error text too).
    redact.declare(redact.secrets_in(data))
    return validate(data, path)
