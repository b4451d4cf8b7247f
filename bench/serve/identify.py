"""What a running server says about itself: the models it serves and its backend.

`vlm-bench run --url` names and labels a run from this (bench/cli/attach.py). The
backend is read, first to last, from /v1/models' `owned_by` (vLLM: "vllm", SGLang:
"sglang"; generic owners such as "openai" or "system" say nothing), the prefix of the
/metrics names (`vllm:…` → vllm), and the `server:` header when it names more than a web
framework; its version from /version (vLLM: {"version": "0.10.1"}). What it does not say
stays empty, for the user's flags or `--set` to fill. Probes never raise on a bad
answer; only "nothing answers" (OSError) reaches the caller, from /v1/models.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bench.serve.http import get, get_response

GENERIC_OWNERS = frozenset({"", "openai", "system", "user", "organization-owner", "owner"})
# `server:` headers that name the web framework, not the inference engine behind it.
WEB_SERVERS = re.compile(r"^(uvicorn|hypercorn|gunicorn|python|aiohttp|nginx|envoy|werkzeug)", re.I)
_METRIC = re.compile(r"^([a-z][a-z0-9_]*):[a-z_]", re.M)


@dataclass(frozen=True)
class ServerIdentity:
    """/v1/models' status and the models it lists (None: not an OpenAI model list), and
    the backend as the server said it."""

    status: int
    models: tuple[str, ...] | None
    backend: str = ""


def _owner(data: Any) -> str:
    """The one non-generic `owned_by` of the model list ("" when none or several)."""
    owners = {str(m.get("owned_by") or "") for m in data if isinstance(m, dict)}
    owners -= GENERIC_OWNERS
    return owners.pop() if len(owners) == 1 else ""


def metrics_backend(text: str) -> str:
    """The namespace of `NAME:metric` Prometheus names when they share one (vllm, sglang)."""
    names = set(_METRIC.findall(text))
    return names.pop() if len(names) == 1 else ""


def version_of(body: bytes) -> str:
    """The version /version reports: {"version": "…"} or a bare string ("" otherwise)."""
    try:
        said = json.loads(body)
    except ValueError:
        return ""
    value = said.get("version") if isinstance(said, dict) else said
    return str(value).strip()[:80] if isinstance(value, str | int | float) else ""


def _quiet_get(url: str, headers: dict[str, str] | None) -> bytes:
    try:
        status, body = get(url, 10, headers)
    except OSError:
        return b""
    return body if status == 200 else b""


def backend_of(url: str, owner: str, server_header: str, headers: dict[str, str] | None) -> str:
    """`NAME VERSION`, `NAME`, or "" from the owner, /metrics, `server:` and /version."""
    name = owner or metrics_backend(_quiet_get(url + "/metrics", headers).decode(errors="replace"))
    if not name and server_header and not WEB_SERVERS.match(server_header):
        name = server_header.split("/")[0].strip()
    if not name:
        return ""
    version = version_of(_quiet_get(url + "/version", headers))
    return f"{name} {version}" if version else name


def model_list(body: bytes) -> list[dict[str, Any]] | None:
    """The entries of an OpenAI model list, or None when `body` is not one."""
    try:
        data = json.loads(body)["data"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(data, list) or not all(isinstance(m, dict) and "id" in m for m in data):
        return None
    return data


def identify(
    url: str, headers: dict[str, str] | None = None, timeout: float = 10.0
) -> ServerIdentity:
    """Ask the server at `url` (its base URL) what it serves and runs. Raises OSError
    when nothing answers at /v1/models."""
    status, body, said = get_response(url + "/v1/models", timeout, headers)
    data = model_list(body) if status == 200 else None
    models = tuple(str(m["id"]) for m in data) if data is not None else None
    backend = backend_of(url, _owner(data or []), said.get("server", ""), headers)
    return ServerIdentity(status, models, backend)
