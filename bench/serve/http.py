"""The one HTTP helper: plain urllib GET and POST to the server under test, used by the
readiness probe and server handle (bench/serve/server.py), the answer check
(bench/serve/answer.py), provenance's `/version` query and `run --url`.

No third-party client: these are a handful of small requests to loopback or a user's own
server, and the load itself is evalscope's job. Callers need not know urllib: an HTTP error
status is returned, and a server that does not answer raises OSError (urllib's URLError,
a refused or reset connection and a timeout are all OSErrors). So does one that answers
something other than HTTP (http.client's HTTPException: a bad status line, a cut body).
"""

from __future__ import annotations

import contextlib
import http.client
import urllib.error
import urllib.request
from collections.abc import Iterator


@contextlib.contextmanager
def _not_http_is_oserror(url: str) -> Iterator[None]:
    try:
        yield
    except http.client.HTTPException as exc:
        raise OSError(f"{url}: not an HTTP answer ({type(exc).__name__}: {exc})") from exc


def get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Status and body of a GET; an HTTP error status is returned, not raised."""
    status, body, _ = get_response(url, timeout, headers)
    return status, body


def get_response(
    url: str, timeout: float = 5.0, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and response headers (names lower-cased) of a GET; an HTTP error
    status is returned, not raised."""
    req = urllib.request.Request(url, headers=headers or {})
    with _not_http_is_oserror(url):
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                said = {k.lower(): v for k, v in resp.headers.items()}
                return resp.status, resp.read(), said
        except urllib.error.HTTPError as exc:
            return exc.code, b"", {k.lower(): v for k, v in exc.headers.items()}


def post_json(
    url: str, body: bytes, timeout: float, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """Status and body of a JSON POST; an HTTP error status is returned, not raised."""
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={**(headers or {}), "Content-Type": "application/json"},
    )
    with _not_http_is_oserror(url):
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


def get_text(url: str, timeout: float = 5) -> str | None:
    """The body of a GET, or None when nothing answers (or not with 200)."""
    try:
        with _not_http_is_oserror(url), urllib.request.urlopen(url, timeout=timeout) as resp:
            body: bytes = resp.read()
            return body.decode("utf-8", errors="replace") if resp.status == 200 else None
    except (OSError, ValueError):
        return None
