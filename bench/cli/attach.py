"""`vlm-bench run --url`: benchmark a server that is already running, without a scenario file.

The scenario is built in code: an external server at the URL, the quick start's load and
sweep (scenarios/quickstart.yaml; a unit test keeps the two equal), the served model name
from --model or the server's /v1/models, the tokenizer from --tokenizer or the generated one.

Such a run is named after what it measured, so that history, trends and the dashboard
(which group runs by scenario name) keep different servers and workloads apart:
`MODEL@HOST-PORT` (a scenario file's own name in place of MODEL when one is given), with
`-` and 8 hex digits of the workload's changes (--set, --parallel, …) when there are any;
`--name` replaces it. Backend and hardware are what the flags say, else what the server
says (bench/serve/identify.py), else the scenario file's.

The flags that go with --url are declared here (`add_url_flags`, called by `run`'s
declaration in bench/cli/run.py) beside the code that reads them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from bench.config.scenario import load_scenario
from bench.dotted import set_dotted
from bench.errors import UserError, describe_validation_error
from bench.redact import redact_text
from bench.schema.scenario import GENERATED_TOKENIZER, Scenario
from bench.schema.scenario_base import MAX_NAME
from bench.serve.http import get
from bench.serve.identify import ServerIdentity, identify, model_list

# The quick start's workload: one 640x640 image, a 100-token prompt, exactly 512 output tokens.
QUICK_LOAD: dict[str, Any] = {
    "dataset": "random_vl",
    "image_width": 640,
    "image_height": 640,
    "image_format": "RGB",
    "image_num": 1,
    "min_prompt_length": 100,
    "max_prompt_length": 100,
    "prefix_length": 0,
    "min_tokens": 512,
    "max_tokens": 512,
    "ignore_eos": True,
    "request_timeout_s": 120,
}
QUICK_SWEEP: dict[str, Any] = {"parallel": [1, 2, 4, 8, 16, 32], "requests_per_level": "4x"}
# Paths an OpenAI client is given, forgiven after the base URL: /v1, and its routes.
API_PATHS = re.compile(r"(/v1(/chat/completions|/completions|/models)?)?/*$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")


def add_url_flags(run: argparse.ArgumentParser) -> None:
    """--url, and what goes with it: --model, --tokenizer, --name, --hardware, --backend."""
    run.add_argument(
        "--url",
        help="benchmark the server already running at this base URL (http://HOST:PORT); "
        "with a scenario file, replaces its server",
    )
    run.add_argument("--model", help="with --url: the served model name (default: /v1/models)")
    run.add_argument("--tokenizer", help="with --url: tokenizer folder (default: generated)")
    run.add_argument(
        "--name",
        help="with --url: the run's name (default: MODEL@HOST-PORT, a scenario file's name "
        "in place of MODEL, and a digest of --set, --parallel, … when given)",
    )
    run.add_argument(
        "--hardware", help="with --url: the hardware label (default: the scenario file's)"
    )
    run.add_argument(
        "--backend",
        help="with --url: the backend label (default: what the server says: /v1/models' "
        "owned_by, /metrics names, /version)",
    )


@dataclass(frozen=True)
class Labels:
    """--name, --hardware and --backend: how a --url run is named and labelled."""

    name: str | None = None
    hardware: str | None = None
    backend: str | None = None


# What OpenSSL says when the other side answers TLS's hello in plain HTTP.
PLAIN_HTTP_SIGNS = frozenset({"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST"})
# Overrides that label a run rather than change what it measures.
LABELS = ("name", "description", "hardware", "backend", "output_dir")


def refuse_url_scenario(path: str | None) -> None:
    """A URL where a scenario file goes: say to give it as --url."""
    if path and re.match(r"^https?://", path.strip(), re.I):
        raise UserError(
            f"{redact_text(path)!r} is a URL, not a scenario file; to benchmark the server "
            f"running there type: vlm-bench run --url {redact_text(base_url(path))}"
        )


def base_url(url: str) -> str:
    """`http://host:port`, forgiving a trailing slash, `/v1` or an API route such as
    `/v1/chat/completions` (what OpenAI clients and evalscope are given)."""
    text = API_PATHS.sub("", url.strip())
    try:
        urlsplit(text).port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        text = ""
    if "@" in url.strip().split("://", 1)[-1].split("/", 1)[0]:
        # Never sent (a host lookup of `user:pw@host` failed with "Name or service not
        # known"), and never echoed: the line names the URL with the credentials hidden.
        raise UserError(
            f"--url {redact_text(url)}: credentials in the URL (user:password@) are refused: "
            "give the key as load.api_key (--set load.api_key='${env:OPENAI_API_KEY}') "
            "or an environment variable"
        )
    if not re.fullmatch(r"https?://[^/\s]+", text):
        raise UserError(f"--url {redact_text(url)!r}: expected http://HOST:PORT")
    return text


def _unanswered(where: str, url: str, exc: OSError) -> UserError:
    """The one line for a server that did not answer: TLS to a plain-HTTP server named."""
    reason = getattr(exc, "reason", exc)
    if not isinstance(reason, ssl.SSLError):
        return UserError(f"{where} failed ({reason}); is the server running?")
    said = getattr(reason, "reason", None) or str(reason)
    if said not in PLAIN_HTTP_SIGNS:  # a certificate or protocol problem of a TLS server
        return UserError(f"{where}: TLS failed ({said})")
    plain = "http://" + url.split("://", 1)[1]
    return UserError(
        f"{where}: TLS failed ({said}): the server speaks plain HTTP; "
        f"type --url {redact_text(plain)}"
    )


def served_model(url: str, timeout: float = 10.0) -> str:
    """The one model the server lists at /v1/models (a one-line error otherwise)."""
    where = f"--url {redact_text(url)}: GET /v1/models"
    try:
        status, body = get(url + "/v1/models", timeout)
    except OSError as exc:  # nothing answers (see bench.serve.http)
        raise _unanswered(where, url, exc) from None
    if status != 200:
        raise UserError(f"{where} answered HTTP {status}; give --model NAME")
    data = model_list(body)
    if data is None:
        raise UserError(f"{where}: not an OpenAI model list; give --model NAME")
    ids = [str(m["id"]) for m in data]
    if len(ids) != 1:
        listed = ", ".join(ids) if ids else "no model"
        raise UserError(f"{where} lists {listed}; give --model NAME")
    return ids[0]


def ask(url: str) -> ServerIdentity:
    """What the server says about itself; nothing when it does not answer (a run with
    --model then fails at readiness, a dry run does not need it), except over TLS."""
    try:
        return identify(url)
    except OSError as exc:
        if isinstance(getattr(exc, "reason", exc), ssl.SSLError):
            raise _unanswered(f"--url {redact_text(url)}: GET /v1/models", url, exc) from None
        return ServerIdentity(0, None)


def run_name(first: str, url: str, overrides: dict[str, Any]) -> str:
    """`FIRST@HOST-PORT`, plus a digest of the workload's overrides when there are any."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = re.sub(r"[^A-Za-z0-9._-]+", "-", parts.hostname or "server")
    head = re.sub(r"[^A-Za-z0-9._-]+", "-", first).strip("-._") or "model"
    changes = {k: v for k, v in overrides.items() if k.split(".")[0] not in LABELS}
    digest = json.dumps(changes, sort_keys=True, default=str).encode()
    tail = f"-{hashlib.sha256(digest).hexdigest()[:8]}" if changes else ""
    where = f"@{host}-{port}{tail}"
    return head[: MAX_NAME - len(where)] + where


def check_name(name: str) -> str:
    if not NAME.match(name) or len(name) > MAX_NAME:
        raise UserError(
            f"--name {name!r}: letters, digits and . _ @ - only (a folder name), "
            f"at most {MAX_NAME} characters"
        )
    return name


def url_overrides(
    url: str, model: str | None, tokenizer: str | None, said: ServerIdentity, flags: Labels
) -> dict[str, Any]:
    """What --url, --model, --tokenizer, --hardware and --backend change in a scenario
    file (the backend the server said unless --backend says otherwise)."""
    out: dict[str, Any] = {"server": {"kind": "external", "url": base_url(url)}}
    if model:
        out["model.served_name"] = model
    if tokenizer:
        out["model.tokenizer_path"] = tokenizer
    if flags.backend or said.backend:
        out["backend"] = flags.backend or said.backend
    if flags.hardware:
        out["hardware"] = flags.hardware
    return out


def scenario(
    path: str | None,
    url: str,
    model: str | None,
    tokenizer: str | None,
    overrides: dict[str, Any],
    flags: Labels | None = None,
) -> Scenario:
    """The scenario file with its server replaced by the URL, or (no file) the quick start's
    load and sweep against it, named after model and server. `overrides` (--set,
    --parallel, …) apply last."""
    flags = flags or Labels()
    server = base_url(url)
    first = model or (None if path else served_model(server))
    said = ask(server)
    mine = url_overrides(server, model, tokenizer, said, flags)
    if path:
        named = load_scenario(path, {**mine, **overrides})
        name = _name(flags, overrides, named.name, server)
        return load_scenario(path, {**mine, **overrides, "name": name})
    if tokenizer and not (Path(tokenizer) / "tokenizer.json").exists():
        raise UserError(f"--tokenizer {tokenizer}: no tokenizer.json there")
    data: dict[str, Any] = {
        "name": _name(flags, overrides, first or "model", server),
        "description": f"a server already running at {redact_text(server)} (vlm-bench run --url)",
        "model": {
            "served_name": first,
            "tokenizer_path": tokenizer or GENERATED_TOKENIZER,
        },
        "server": mine["server"],
        "load": dict(QUICK_LOAD),
        "sweep": dict(QUICK_SWEEP),
    }
    for key in ("backend", "hardware"):
        if key in mine:
            data[key] = mine[key]
    for key, value in overrides.items():
        set_dotted(data, key, value)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise UserError(describe_validation_error("--url", exc, Scenario)) from None


def _name(flags: Labels, overrides: dict[str, Any], first: str, server: str) -> str:
    """--name, else `--set name=…`, else `FIRST@HOST-PORT[-DIGEST]`."""
    if flags.name:
        return check_name(flags.name)
    if "name" in overrides:
        return str(overrides["name"])
    return run_name(first, server, overrides)
