"""The digest that pairs a client's request record with the simulator's trace line."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def request_digest(body: Any) -> str | None:
    """Short digest of what a request asks for: every text part, image URL and video URL
    of a chat request, in order, or a completion's prompt. None when the body has neither.

    Images are included because random prompts can repeat within a level (evalscope
    draws each prompt's start token at random) while its random images do not.
    """
    if not isinstance(body, dict):
        return None
    h = hashlib.sha1()
    messages = body.get("messages")
    prompt = body.get("prompt")
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
            for part in parts if isinstance(parts, list) else []:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "text" and isinstance(part.get("text"), str):
                    h.update(b"t\0" + part["text"].encode() + b"\0")
                elif part.get("type") == "image_url":
                    url = part.get("image_url")
                    url = url.get("url") if isinstance(url, dict) else url
                    if isinstance(url, str):
                        h.update(b"i\0" + url.encode() + b"\0")
                elif part.get("type") == "video_url":
                    url = part.get("video_url")
                    url = url.get("url") if isinstance(url, dict) else url
                    if isinstance(url, str):
                        h.update(b"v\0" + url.encode() + b"\0")
    elif isinstance(prompt, str):
        h.update(b"p\0" + prompt.encode())
    elif isinstance(prompt, list):
        h.update(b"p\0" + json.dumps(prompt).encode())
    else:
        return None
    return h.hexdigest()[:16]
