"""What went wrong around a run's levels, one `Incident` each (`RunResult.incidents`).

Written by bench.measure (a server that never got ready, died between or during levels,
a required answer check that failed), read by the report's "What happened" section.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(kw_only=True)
class Incident:
    """Something that went wrong around the levels (bench.measure): a server that
    never got ready, died between or during levels, a required answer check that failed.
    None: not recorded for this kind; run.json leaves such a field out. The fields are in
    the order sweep.py has always written them, so run.json is unchanged."""

    at: str | None = None  # ISO time
    level: int | None = None  # 1-based sweep position; 0: before the sweep
    parallel: int | None = None  # 0: before the sweep
    kind: str
    detail: str | None = None
    level_reason: str | None = None  # the level's own reason, when it died during one
    log_tail: list[str] | None = None  # server.log's last lines
    restarted: bool | None = None  # True once the policy restarted the server

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        """From a checked incident (bench.schema.runfile)."""
        known: dict[str, Any] = {f.name: data.get(f.name) for f in fields(cls)}
        return cls(**known)
