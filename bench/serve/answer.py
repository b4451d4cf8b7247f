"""The answer check against a live server: send the reference's OVD request (the format
and verdict are bench/ovd.py), judge the reply, and keep request, answer and verdict.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.ovd import AnswerCheckResult, interpret, prompt, request_body
from bench.serve.http import post_json


def run_answer_check(
    url: str,
    served_name: str,
    image_png: bytes,
    width: int,
    height: int,
    describe: str,
    event: str,
    max_tokens: int,
    temperature: float,
    timeout_s: float,
    out_dir: Path | None = None,
    headers: dict[str, str] | None = None,
) -> AnswerCheckResult:
    """Send the OVD request to `url`, judge the answer; keep request, answer and verdict
    (`headers`, e.g. an API key, are sent but never kept)."""
    body = request_body(served_name, image_png, prompt(describe, event), max_tokens, temperature)
    start = time.perf_counter()
    try:
        status, answer = post_json(
            url + "/v1/chat/completions", json.dumps(body).encode(), timeout_s, headers
        )
    except OSError as exc:  # refused, reset, timed out
        status, answer = 0, f"no answer: {exc}".encode()
    result = interpret(status, answer, time.perf_counter() - start, width, height)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "image.png").write_bytes(image_png)
        body["messages"][0]["content"][0]["image_url"]["url"] = "image.png (beside this file)"
        (out_dir / "request.json").write_text(json.dumps(body, ensure_ascii=False, indent=2))
        (out_dir / "answer.txt").write_text(result.raw_answer or answer.decode(errors="replace"))
        (out_dir / "verdict.json").write_text(
            json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n"
        )
    return result
