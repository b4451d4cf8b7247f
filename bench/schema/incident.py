"""What went wrong around a run's levels, one `Incident` each (`RunResult.incidents`).

Written by bench.measure (a server that never got ready, died between or during levels,
a required answer check that failed), read by the report's "What happened" section.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from pydantic import Field, Strict
from pydantic.dataclasses import dataclass

Text = Annotated[str, Strict()]
Count = Annotated[int, Strict(), Field(ge=0, le=2**53)]


@dataclass(kw_only=True)
class Incident:
    """Something that went wrong around the levels (bench.measure): a server that
    never got ready, died between or during levels, a required answer check that failed.
    None: not recorded for this kind; run.json leaves such a field out. The fields are in
    the order sweep.py has always written them, so run.json is unchanged."""

    at: Text | None = None  # ISO time
    level: Count | None = None  # 1-based sweep position; 0: before the sweep
    parallel: Count | None = None  # 0: before the sweep
    kind: Text
    detail: Text | None = None
    level_reason: Text | None = None  # the level's own reason, when it died during one
    log_tail: list[Text] | None = None  # server.log's last lines
    restarted: Annotated[bool, Strict()] | None = None  # True once the policy restarted it

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}
