"""The answer check: the reference's open-vocabulary-detection request, and a verdict on the reply.

A sweep of a server that answers garbage (wrong dtype, broken chat template) is fast and
worthless, so before measuring, vlm-bench sends the request the VLM-R1 guide sends —
its prompt verbatim (`bench/data/ovd_prompt.txt`), `{describe}` and `{event}` filled from
the scenario — and checks the reply has the format the prompt asks for:

    <description>…</description>
    ```json
    {"answer": "yes" | "no", "explanations": [{"bbox_2d": [x1, y1, x2, y2], "label": "…"}]}
    ```

`explanations` may be "None" when no object is involved. Boxes are pixels of the image as
the model saw it (Qwen2.5-VL's resize: 640x640 → 644x644), so a box may reach the larger of
the two sizes. The verdict says what is wrong, item by item; it never raises on a reply.

This module is the format only (prompt, parser, verdict; the simulator answers in it);
sending the request to a server is bench/serve/answer.py.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import imaging

PROMPT_FILE = Path(__file__).parent / "data" / "ovd_prompt.txt"
# The reference's offline example question (a cup).
DEFAULT_DESCRIBE = "杯子在哪个位置？请输出杯子的bbox坐标。"
DEFAULT_EVENT = "杯子"

_DESCRIPTION = re.compile(r"<description>(.*?)</description>", re.DOTALL)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_EVENT = re.compile(r"图中是否出现(.+?)？")


def prompt(describe: str = DEFAULT_DESCRIBE, event: str = DEFAULT_EVENT) -> str:
    """The reference's OVD prompt with the question filled in."""
    text = PROMPT_FILE.read_text(encoding="utf-8")
    return text.replace("{describe}", describe).replace("{event}", event)


def is_ovd_prompt(text: str) -> bool:
    return "<description>" in text and "bbox_2d" in text


def asked_event(text: str) -> str | None:
    """The object an OVD prompt asks about (`图中是否出现{event}？`)."""
    found = _EVENT.search(text)
    return found.group(1) if found else None


def request_body(
    served_name: str, image_png: bytes, text: str, max_tokens: int, temperature: float
) -> dict[str, Any]:
    """The reference's request (image first, then the prompt), non-streaming, bounded."""
    return {
        "model": served_name,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": imaging.data_url(image_png)}},
                    {"type": "text", "text": text},
                ],
            }
        ],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stream": False,
    }


def sample_answer(width: int, height: int, label: str) -> str:
    """A well-formed answer in the prompt's format, boxing where `imaging.answer_check_image`
    draws its object (the simulator's answer, and a fixture for the parser)."""
    answer = {
        "answer": "yes",
        "explanations": [{"bbox_2d": imaging.object_box(width, height), "label": label}],
    }
    return (
        "<description>A red cup stands on a wooden table in the middle of the picture."
        "</description>\n\n```json\n" + json.dumps(answer, ensure_ascii=False) + "\n```"
    )


@dataclass
class Verdict:
    valid: bool
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    description: str | None = None
    answer: str | None = None
    boxes: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        if not self.valid:
            return "format invalid: " + "; ".join(self.problems)
        boxes = ", ".join(f"{b['label']} {b['bbox_2d']}" for b in self.boxes) or "no boxes"
        return f"format valid: answer {self.answer}, {boxes}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _json_block(text: str) -> tuple[Any, str | None]:
    """The reply's JSON: a fenced block, else the first {...}; (value, problem)."""
    fenced = _FENCE.search(text)
    if fenced:
        source = fenced.group(1).strip()
    else:
        start = text.find("{")
        if start < 0:
            return None, "no JSON block (neither ```json … ``` nor {…})"
        source = text[start:]
    try:
        value, _ = json.JSONDecoder().raw_decode(source)
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    return value, None


def _box(item: Any, where: str, width: int, height: int, problems: list[str]) -> dict | None:
    if not isinstance(item, dict):
        problems.append(f"{where} must be an object with bbox_2d and label")
        return None
    box, label = item.get("bbox_2d"), item.get("label")
    if not (isinstance(box, list) and len(box) == 4 and all(_number(v) for v in box)):
        problems.append(f"{where}.bbox_2d must be four numbers, got {box!r}")
        return None
    x1, y1, x2, y2 = box
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        problems.append(
            f"{where}.bbox_2d {box} is not a box inside the {width}x{height} image "
            "(0 <= x1 < x2 <= width, 0 <= y1 < y2 <= height)"
        )
        return None
    if not (isinstance(label, str) and label.strip()):
        problems.append(f"{where}.label must be a non-empty string, got {label!r}")
        return None
    return {"bbox_2d": box, "label": label}


def parse_answer(text: str, width: int, height: int) -> Verdict:
    """Judge a reply to the OVD prompt for an image of `width` x `height` pixels."""
    problems: list[str] = []
    verdict = Verdict(valid=False, problems=problems)
    found = _DESCRIPTION.search(text)
    rest = text
    if found is None:
        problems.append("no <description>…</description>")
    else:
        verdict.description = found.group(1).strip()
        if not verdict.description:
            problems.append("<description> is empty")
        rest = text[found.end() :]
    data, problem = _json_block(rest)
    if problem:
        problems.append(problem)
        return verdict
    if not isinstance(data, dict):
        problems.append(f"the JSON must be an object, got {type(data).__name__}")
        return verdict
    answer = data.get("answer")
    if isinstance(answer, str) and answer.strip().lower() in ("yes", "no"):
        verdict.answer = answer.strip().lower()
    else:
        problems.append(f'answer must be "yes" or "no", got {answer!r}')
    # Qwen2.5-VL answers in the resized image's pixels: allow the larger of the two sizes.
    rh, rw = imaging.smart_resize(
        height, width, imaging.REFERENCE_MIN_PIXELS, imaging.REFERENCE_MAX_PIXELS
    )
    bound_w, bound_h = max(width, rw), max(height, rh)
    explanations = data.get("explanations")
    if "explanations" not in data:
        problems.append('no explanations (a list of boxes, or "None")')
    elif explanations is None or explanations == [] or explanations == "None":
        pass
    elif isinstance(explanations, list):
        for i, item in enumerate(explanations):
            box = _box(item, f"explanations[{i}]", bound_w, bound_h, problems)
            if box is not None:
                verdict.boxes.append(box)
    else:
        problems.append(f'explanations must be a list of boxes or "None", got {explanations!r}')
    if verdict.answer == "yes" and not verdict.boxes and not problems:
        verdict.warnings.append('answer "yes" without a box')
    if verdict.answer == "no" and verdict.boxes:
        verdict.warnings.append('answer "no" but boxes given')
    verdict.valid = not problems
    return verdict


@dataclass
class AnswerCheckResult:
    """One check against a server: what was sent, what came back, and the verdict."""

    verdict: Verdict
    status: int
    latency_s: float
    raw_answer: str = ""
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.error is None and self.verdict.valid

    def summary(self) -> str:
        if self.error is not None:
            return f"check failed: {self.error}"
        return self.verdict.summary()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.verdict.to_dict()
        out["valid"] = self.valid
        out["summary"] = self.summary()
        return out


def interpret(
    status: int, body: bytes, latency_s: float, width: int, height: int
) -> AnswerCheckResult:
    """A server's HTTP answer to the check request, judged."""

    def failed(why: str) -> AnswerCheckResult:
        return AnswerCheckResult(Verdict(False, [why]), status, latency_s, error=why)

    text = body.decode("utf-8", errors="replace")
    if status != 200:
        return failed(f"HTTP {status}: {text[:300]}")
    try:
        data = json.loads(text)
        choice = data["choices"][0]
        answer = choice["message"]["content"] or ""
    except (json.JSONDecodeError, KeyError, IndexError, TypeError):
        return failed(f"not an OpenAI chat completion: {text[:300]}")
    result = AnswerCheckResult(
        parse_answer(answer, width, height),
        status,
        latency_s,
        raw_answer=answer,
        finish_reason=choice.get("finish_reason"),
        usage=data.get("usage") or {},
    )
    if result.finish_reason == "length":
        result.verdict.warnings.append("the answer was cut at max_tokens")
    return result
