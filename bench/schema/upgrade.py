"""Older run.json files read as the current schema: pure functions, dict in, dict out.

A run is kept for years (reference runs ship with the repository, baselines live in CI
caches), so a reader never refuses a version it once wrote. Each step upgrades one
version to the next and touches only what changed (docs/results.md has the history);
a field of the wrong shape is left as it is, for bench.schema.runfile to refuse with
its JSON path.
"""

from __future__ import annotations

from typing import Any

# Version 1 kept a level's notes in a free-form `extra`; version 2 types them as
# `diagnostics`. `published` (set on levels of an imported table) is dropped: the run's
# provenance.published says the same for the whole run.
_DIAGNOSTICS_V2 = (
    "server_log_bytes",
    "timed_out",
    "request_timeout_s",
    "recorded_requests",
    "undefined",
    "summary_check",
    "summary_mismatch",
    "percentile_check",
    "percentile_mismatch",
    "repeats",
)


def _level_v1_to_v2(level: Any) -> Any:
    if not isinstance(level, dict):
        return level
    out = dict(level)
    extra = out.pop("extra", {})
    out["diagnostics"] = (
        {k: v for k, v in extra.items() if k in _DIAGNOSTICS_V2}
        if isinstance(extra, dict)
        else extra
    )
    checks = out.get("checks")
    if isinstance(checks, list):
        out["checks"] = [_check_v1_to_v2(c) for c in checks]
    return out


def _check_v1_to_v2(check: Any) -> Any:
    """{"check": name, ...} became {"name": name, ...}: "check" meant three things."""
    if not isinstance(check, dict) or "check" not in check:
        return check
    out = {k: v for k, v in check.items() if k != "check"}
    return {"name": check["check"], **out}


def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 run as version 2: levels' `extra` → typed `diagnostics`, checks'
    `check` → `name`."""
    out = dict(data)
    levels = out.get("levels")
    if isinstance(levels, list):
        out["levels"] = [_level_v1_to_v2(level) for level in levels]
    out["schema_version"] = 2
    return out


# Each version this reader upgrades, to the step that takes it one version further.
STEPS = {1: v1_to_v2}


def upgrade(data: dict[str, Any], current: int) -> dict[str, Any]:
    """`data` brought step by step to version `current`; a version with no step (newer,
    or never written) is returned as it is, for the caller to refuse."""
    version = data.get("schema_version")
    while version != current and type(version) is int and version in STEPS:  # not a bool
        data = STEPS[version](data)
        version = data.get("schema_version")
    return data
