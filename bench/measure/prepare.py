"""What a run resolves and checks before anything starts: the tokenizer folder evalscope
gets, and the `${env:NAME}` references the scenario uses (shared by the sweep and the
offline batch).
"""

from __future__ import annotations

from pathlib import Path

from bench import redact
from bench.errors import UserError
from bench.schema.scenario import GENERATED_TOKENIZER, Scenario
from bench.tools.tokenizer import ensure_tokenizer


def resolve_tokenizer(scenario: Scenario, must_exist: bool = True) -> str:
    """The tokenizer folder evalscope gets, absolute when it is local (evalscope runs in
    the level's folder, and a path it cannot find is taken for a hub id and fetched)."""
    path = scenario.tokenizer_path
    if path == GENERATED_TOKENIZER:
        return str(ensure_tokenizer().resolve())
    if must_exist and (problem := tokenizer_problem(scenario)):
        raise UserError(problem)
    return str(Path(path).resolve()) if Path(path).exists() else path


def tokenizer_problem(scenario: Scenario) -> str | None:
    """Why the scenario's tokenizer folder cannot be used (None: it can, or generated)."""
    path = scenario.tokenizer_path
    field = "model.tokenizer_path" if scenario.model.tokenizer_path else "model.path"
    if path == GENERATED_TOKENIZER or (Path(path) / "tokenizer_config.json").exists():
        return None
    where = "" if Path(path).is_dir() else " (no such folder)"
    return (
        f"{field}: {path} has no tokenizer_config.json{where} "
        f"(use a local tokenizer folder, or '{GENERATED_TOKENIZER}')"
    )


def check_references(scenario: Scenario) -> None:
    """Every `${env:NAME}` the scenario uses must be set, before anything starts."""
    missing = redact.missing_reference(scenario.model_dump(mode="json"))
    if missing:
        raise UserError(f"scenario {scenario.name}: {missing}")
