"""Dotted-key overrides (`load.max_tokens=64`) applied to nested mappings from YAML."""

from __future__ import annotations

from typing import Any

from bench.errors import UserError


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set `data[a][b][c] = value` for key "a.b.c", creating mappings on the way."""
    if not all(key.split(".")):
        raise UserError(f"--set {key}: empty field name (write a.b.c)")
    target = data
    *parents, leaf = key.split(".")
    for part in parents:
        nxt = target.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise UserError(f"--set {key}: {part} is not a mapping")
        target = nxt
    target[leaf] = value
