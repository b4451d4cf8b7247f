"""Secrets: the one redaction every writer uses, and `${env:NAME}` references.

What counts as a secret (decided once, here):

- an environment variable, flag or header whose NAME has a word (split on `-`, `_`, `.`,
  spaces) ending in token, key, secret, password, passwd, auth, authorization, credential(s),
  cookie or apikey: `HF_TOKEN`, `TOKEN_FILE`, `OPENAI_API_KEY`, `PGPASSWORD`, `--api-key`,
  `--hf-token`, `--auth`, `X-Api-Key`, `Cookie`. Word-wise rather than substring, because
  the settings under test must stay readable: `MAX_TOKENS`, `--max-tokens`,
  `--max-num-batched-tokens`, `--tokenizer`, `TOKENIZERS_PARALLELISM`, `--ssl-keyfile`;
- the value after such a flag (`--api-key X`, `--hf-token=X`), `-e NAME=X` / `--env NAME=X`
  items (any `NAME=X` argv item with a secret NAME), `Name: value` header strings with a
  secret name (`--header "Authorization: Bearer X"`), `Bearer X` / `Basic X` anywhere;
- URL user-info in any scheme: `http://user:pass@host`, `ray://…`, `postgresql://…`,
  `redis://…` → `SCHEME://<redacted>@host`; a secret-named `NAME=value` in free text
  (`?password=X`, `PGPASSWORD=X`);
- the secrets declared in this process (`declare`): the scenario's literal secret values,
  the values its references resolve to, and the passwords of URLs given on the command
  line, so a library's exception text that quotes one bare cannot carry it out either.

Sinks, not sources: every byte vlm-bench writes (the console through `RedactingStream`,
log lines through `RedactingFormatter`, result files, store rows and dashboard pages
through `scrub`) passes `scrub` once at the point it leaves the process.

A value that is a whole `${env:NAME}` reference is not a secret and is kept as written:
the scenario file says where the secret comes from, and vlm-bench resolves it from
os.environ only when a process starts or a request is made (`resolve`).

Everything here is pure except `scrub_tree`, which rewrites files a child process wrote.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

REDACTED = "<redacted>"
_SECRET_WORDS = (
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "cookie",
)
_WORD_SPLIT = re.compile(r"[-_.\s]+")
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$", re.DOTALL)
_HEADER = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*:\s*(.*)$", re.DOTALL)
# Only `Bearer`: "Basic"/"Token" followed by a word is ordinary prose in a prompt.
_SCHEME_CRED = re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
# The user-info runs to the last `@` before the host (a password may hold `@`), but never
# over a quote, bracket, space, `/`, `?` or `#`: JSON and HTML around a URL stay whole.
# A scheme starts a word (the look-behind): else a long word is tried from each of its
# letters, quadratic in its length.
_USERINFO = re.compile(
    r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s\"'<>@]+(?:@[^/?#\s\"'<>@]*)*@"
)
_KEY_VALUE = re.compile(r"(?<![A-Za-z0-9_.-])([A-Za-z_][A-Za-z0-9_.-]*)=([^&\s\"'<>;,]+)")
REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
MIN_SCRUB_LEN = 6  # shorter resolved values ("1", "true") would scrub innocent bytes


def secret_name(name: str) -> bool:
    """True when a variable, flag or header name names a secret (see the module doc)."""
    words = _WORD_SPLIT.split(name.strip("-").lower())
    # Trailing digits go: `HF_TOKEN2` is a token too.
    return any(w.rstrip("0123456789").endswith(s) for w in words if w for s in _SECRET_WORDS)


def is_reference(value: str) -> bool:
    """The whole value is one `${env:NAME}` reference (kept visible: it is not a secret)."""
    return REFERENCE.fullmatch(value) is not None


def _hide(value: str) -> str:
    return value if is_reference(value) else REDACTED


def _key_value(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    # A bare `KEY=VALUE` or `auth=…` in prose is a placeholder or a setting, not a secret.
    plain = name.lower() in ("key", "auth")
    if plain or not secret_name(name) or value.startswith("${env:") or value == REDACTED:
        return match.group(0)
    return f"{name}={REDACTED}"


def redact_text(text: str, secrets: Collection[str] = ()) -> str:
    """Free text: URL user-info, `Bearer X`-style credentials, secret-named `NAME=value` and
    any of `secrets` (values resolved from references) replaced, wherever they appear."""
    text = _USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", text)
    for value in sorted(secrets, key=len, reverse=True):
        if value:
            text = text.replace(value, REDACTED)
    if "=" in text:
        text = _KEY_VALUE.sub(_key_value, text)
    return _SCHEME_CRED.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def redact_item(item: str, secrets: Collection[str] = ()) -> str:
    """One string that is not a flag's value: `NAME=X`, `Name: X`, a URL, free text."""
    if is_reference(item):
        return item
    assign = _ASSIGN.match(item)
    if assign and secret_name(assign.group(1)):
        return f"{assign.group(1)}={_hide(assign.group(2))}"
    header = _HEADER.match(item)
    if header and secret_name(header.group(1)):
        return f"{header.group(1)}: {_hide(header.group(2))}"
    return redact_text(item, secrets)


def redact_argv(argv: list[str], secrets: Collection[str] = ()) -> list[str]:
    """The argv with secret values replaced: `--api-key X`, `--api-key=X`, `--auth "Bearer X"`,
    `-e HF_TOKEN=X`, `--header "Authorization: Bearer X"`, URL user-info."""
    out: list[str] = []
    hide_next = False
    for item in argv:
        if hide_next and not item.startswith("-"):
            out.append(_hide(item))
            hide_next = False
            continue
        hide_next = False
        if item.startswith("-"):
            name, eq, value = item.lstrip("-").partition("=")
            if secret_name(name):
                if eq:
                    out.append(item[: len(item) - len(value)] + _hide(value))
                    continue
                hide_next = True
            out.append(redact_text(item, secrets) if not secret_name(name) else item)
            continue
        out.append(redact_item(item, secrets))
    return out


def redact_env(env: Mapping[str, str], secrets: Collection[str] = ()) -> dict[str, str]:
    """Environment (or headers): values of secret names replaced, others text-redacted."""
    return {k: (_hide(v) if secret_name(k) else redact_text(v, secrets)) for k, v in env.items()}


def _value(key: str, value: Any, secrets: Collection[str]) -> Any:
    """A mapping's value: hidden whole when its key names a secret (a bool is a switch)."""
    if not secret_name(key) or isinstance(value, bool) or value is None:
        return _walk(value, secrets)
    if isinstance(value, str):
        return _hide(value)
    if isinstance(value, int | float):
        return REDACTED
    return _walk(value, secrets)


def _walk(value: Any, secrets: Collection[str]) -> Any:
    """Any JSON-like value: mappings key-aware, lists as argv, strings as items."""
    if isinstance(value, dict):
        return {k: _value(str(k), v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return redact_argv(value, secrets)
        return [_walk(v, secrets) for v in value]
    if isinstance(value, str):
        return redact_item(value, secrets)
    return value


def redact_value(value: Any, secrets: Collection[str] = ()) -> Any:
    """Any JSON-like value (engine arguments, a request's metadata), as `redact_scenario`."""
    return _walk(value, secrets)


def resolve_value(value: Any, environ: Mapping[str, str] | None = None) -> Any:
    """Any JSON-like value with the references in its strings resolved (for a child)."""
    if isinstance(value, dict):
        return {k: resolve_value(v, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_value(v, environ) for v in value]
    return resolve(value, environ) if isinstance(value, str) else value


def redact_scenario(data: dict[str, Any], secrets: Collection[str] = ()) -> dict[str, Any]:
    """A resolved scenario (`Scenario.model_dump(mode="json")`) safe to write or print.

    Walks every field, so server.env, server.argv/args, server.vllm.args (a flag → value
    mapping: secret flags hidden by name), server.docker_args, offline.env,
    offline.engine_args, load.api_key/headers and URLs are all covered, and a field added
    later is covered too. A scenario without secrets comes back equal.
    """
    out: dict[str, Any] = _walk(data, secrets)
    return out


# ---- references -------------------------------------------------------------------------


def references(value: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(dotted field, NAME) for every `${env:NAME}` in a JSON-like value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from references(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from references(v, f"{where}.{i}")
    elif isinstance(value, str):
        for m in REFERENCE.finditer(value):
            yield where, m.group(1)


def missing_reference(data: Any, environ: Mapping[str, str] | None = None) -> str | None:
    """'field: ${env:NAME} is not set' for the first reference the environment lacks."""
    env = os.environ if environ is None else environ
    for where, name in references(data):
        if name not in env:
            return f"{where}: ${{env:{name}}} is not set in the environment"
    return None


def resolve(value: str, environ: Mapping[str, str] | None = None) -> str:
    """`value` with its `${env:NAME}` references replaced from the environment (at the
    moment a process starts or a request is sent; unset names were refused earlier)."""
    env = os.environ if environ is None else environ
    return REFERENCE.sub(lambda m: env.get(m.group(1), ""), value)


def resolve_all(values: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    return [resolve(v, environ) for v in values]


def resolve_map(
    values: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    return {k: resolve(v, environ) for k, v in values.items()}


def resolved_secrets(data: Any, environ: Mapping[str, str] | None = None) -> set[str]:
    """The values the scenario's references resolve to (what must never be written)."""
    env = os.environ if environ is None else environ
    return {env[name] for _, name in references(data) if env.get(name)}


def scrub_tree(folder: Path, secrets: Collection[str]) -> None:
    """Overwrite every occurrence of `secrets` in the files under `folder` (a child process's
    output, e.g. evalscope's raw files) with asterisks of the same length, so binary files
    such as SQLite databases keep their layout. Short values are left (see MIN_SCRUB_LEN)."""
    needles = [s.encode() for s in secrets if len(s) >= MIN_SCRUB_LEN]
    if not needles or not folder.exists():
        return
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        clean = data
        for needle in needles:
            clean = clean.replace(needle, b"*" * len(needle))
        if clean != data:
            path.write_bytes(clean)


# ---- sinks ------------------------------------------------------------------------------

# The secrets declared in this process (see `declare`); `scrub` replaces each wherever it
# appears. Shorter values ("1", "true") would scrub innocent text, as in scrub_tree.
_DECLARED: set[str] = set()


def declare(values: Collection[str]) -> None:
    """Remember secret values for the rest of the process: every sink scrubs them."""
    for value in values:
        if isinstance(value, str) and len(value) >= MIN_SCRUB_LEN and not is_reference(value):
            _DECLARED.add(value)
            # As it appears inside JSON text (a quote or backslash in it is escaped there).
            _DECLARED.add(json.dumps(value)[1:-1])


def url_passwords(text: str) -> set[str]:
    """The passwords (and lone user names) of the URLs in `text`: `u:PW` of `ray://u:PW@h`."""
    out = set()
    for match in _USERINFO.finditer(text):
        user, _, password = match.group(0)[len(match.group(1)) : -1].partition(":")
        out.add(password or user)
    return out


def secrets_in(value: Any, environ: Mapping[str, str] | None = None) -> set[str]:
    """The secret values a JSON-like input holds: strings under secret-named keys, URL
    passwords in any string, and what its `${env:NAME}` references resolve to."""
    out = resolved_secrets(value, environ)
    if isinstance(value, dict):
        for k, v in value.items():
            if secret_name(str(k)) and isinstance(v, str) and not is_reference(v):
                out.add(v)
            out |= secrets_in(v, environ)
    elif isinstance(value, list):
        for v in value:
            out |= secrets_in(v, environ)
    elif isinstance(value, str):
        out |= url_passwords(value)
    return out


def scrub(text: str) -> str:
    """THE sink redaction: what leaves the process (console, files, store rows, pages)."""
    return redact_text(text, _DECLARED)


def scrub_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A store row (column -> value) with its text values scrubbed."""
    return {k: scrub(v) if isinstance(v, str) else v for k, v in row.items()}


class RedactingStream:
    """A text stream (sys.stdout, sys.stderr) whose every write is scrubbed first; all
    else (fileno, isatty, encoding, flush) is the wrapped stream's."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(scrub(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class RedactingFormatter(logging.Formatter):
    """Log lines (and their tracebacks) scrubbed, whichever handler writes them."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))
