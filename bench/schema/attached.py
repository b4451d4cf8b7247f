"""What a run carries beside its levels, typed: the answer check before the sweep
(`AnswerCheckRecord`, run.json's `check`) and the offline batch (`OfflineSummary`,
run.json's `offline`).

Writers: bench.measure.answercheck (from bench.ovd.AnswerCheckResult.to_dict) and
bench.measure.offline.summarise. Readers: the report, `vlm-bench offline`'s console lines.
Keys beyond the typed ones (the raw answer, usage, the offline argv) are kept as written.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict

Text = Annotated[str, Strict()]
Count = Annotated[int, Strict(), Field(ge=0, le=2**53)]
NonNegative = Annotated[float, Strict(), Field(ge=0, le=1e300)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class CheckVerdict(_Record):
    warnings: list[Text]


class AnswerCheckRecord(_Record):
    """The answer check's request, answer and verdict (bench/ovd.py), with its mode."""

    mode: Text
    summary: Text
    latency_s: Annotated[float, Strict(), Field(ge=-1e300, le=1e300)]
    verdict: CheckVerdict
    valid: Annotated[bool, Strict()] | None = None
    status: Count | None = None  # the HTTP status
    raw_answer: Text | None = None
    finish_reason: Text | None = None
    usage: dict[str, Any] | None = None
    error: Text | None = None


class OfflineSummary(_Record):
    """One timed batch through vllm.LLM: the served levels' formulas and metric keys."""

    requests: Count
    max_tokens: Count
    rps: NonNegative
    output_tok_s: Annotated[float, Strict(), Field(gt=0, le=1e300)]  # the report divides by it
    total_tok_s: NonNegative | None = None
    generate_s: NonNegative
    init_s: NonNegative
    wrong_length: Count
    output_tokens_min: Count
    output_tokens_max: Count
    vllm_version: Text | None = None
