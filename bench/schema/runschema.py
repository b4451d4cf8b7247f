"""The JSON Schema of run.json (`vlm-bench schema`), for dashboards and CI that read runs.

Derived from the result types themselves (pydantic reads the dataclasses), so it cannot
drift from what `write_run` writes. The scenario block is the Scenario model's own schema.
The figures a level carries beside its fields (`success_rate`, `tokens_honoured`, `flags`)
are added by `RunResult.to_dict` and listed here too.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from bench.schema.results import SCHEMA_VERSION, RunResult
from bench.schema.scenario import Scenario

# Written beside a level's fields (RunResult.to_dict): derived, never read back.
_DERIVED = {
    "success_rate": {"type": "number", "description": "100 * succeeded / (succeeded + failed)"},
    "tokens_honoured": {"type": "boolean", "description": "no output of the wrong length"},
    "flags": {"type": "array", "items": {"type": "string"}, "description": "`check: detail`"},
}


def run_json_schema() -> dict[str, Any]:
    """run.json's JSON Schema (draft 2020-12, as pydantic writes it)."""
    schema = TypeAdapter(RunResult).json_schema(mode="serialization")
    defs = schema.setdefault("$defs", {})
    scenario = Scenario.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(scenario.pop("$defs", {}))
    defs["Scenario"] = scenario
    schema["properties"]["scenario"] = {"$ref": "#/$defs/Scenario"}
    defs["LevelResult"]["properties"].update(_DERIVED)
    schema["properties"]["schema_version"] = {"const": SCHEMA_VERSION, "default": SCHEMA_VERSION}
    schema["title"] = f"vlm-bench run.json, schema version {SCHEMA_VERSION}"
    return schema
