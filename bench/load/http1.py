"""A small HTTP/1.1 client for the lean sender: prepared bytes out, a response read as it
arrives, each received piece timed in the event loop's read callback.

Why not evalscope's aiohttp session for prepared requests: at concurrency 64 against
benchmarks/fixed_server.py, every request of a wave starts at about the same moment (the
previous wave ends together), and aiohttp's own work per request (building the request
object, trust_env's proxy and netrc look-ups, the connector, the payload writer, the
response parser and the stream reader's wake-ups) ran for each of them between the
request's start stamp and its bytes leaving: the server saw requests 15-33 ms after the
client had started their clocks, which is all of the client's TTFT error measured there
(docs/validity.md). Here a request is one `transport.write` of a head built once per set
of headers and the body serialised before the level, right after its start stamp; the
response is parsed inside `data_received`, so the time a piece of the stream carries is
the time the loop read it from the socket, not the time a coroutine woke up to look.

It does only what a prepared request needs, and says so (`target`): plain `http://`
URLs without credentials in them, no proxy from the environment, no netrc entry for the
host; anything else goes through aiohttp as before. Connections are kept alive and reused
within a level; a reused connection the server had closed meanwhile is retried once on a
fresh one (nothing was sent back on it, so the server did not take the request). Bodies
come chunked, with a Content-Length, or delimited by the close; no compression is asked
for (no Accept-Encoding), so none is accepted.
"""

from __future__ import annotations

import asyncio
import netrc
import os
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024  # bytes of status line and headers a response may have
MAX_LINE = 4096  # bytes of a chunk-size line or trailer line


class HttpError(Exception):
    """The server's answer broke HTTP/1.1 as this client reads it."""


@dataclass(frozen=True)
class Target:
    """Where plain-HTTP requests of one URL go."""

    host: str
    port: int
    path: str  # with the query
    authority: str  # the Host header


def target(url: str) -> Target | None:
    """`url` as a `Target`, or None when this client must leave it to aiohttp: not plain
    http, credentials in the URL, a proxy the environment names for it, or a netrc entry
    for its host (aiohttp with trust_env, evalscope's setting, would use either)."""
    try:
        parts = urlsplit(url)
        port = parts.port or 80
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme != "http" or not host or parts.username is not None:
        return None
    if "http" in urllib.request.getproxies() and not urllib.request.proxy_bypass(host):
        return None
    if _netrc_has(host):
        return None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    authority = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        authority += f":{port}"
    return Target(host, port, path, authority)


def _netrc_has(host: str) -> bool:
    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.isfile(path):
        return False
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError, UnicodeDecodeError):
        return False


def head(method: str, to: Target, headers: Mapping[str, str]) -> bytes | None:
    """A request's head up to, not including, its Content-Length line; None when a header
    cannot go out as it is (a line break in it, or not Latin-1): aiohttp says why."""
    lines = [f"{method} {to.path} HTTP/1.1", f"Host: {to.authority}", "Accept: */*"]
    for name, value in headers.items():
        text = f"{name}: {value}"
        if "\r" in text or "\n" in text or not name or name.lower() in _OURS:
            return None
        lines.append(text)
    try:
        return ("\r\n".join(lines) + "\r\n").encode("latin-1")
    except UnicodeEncodeError:
        return None


_OURS = {"host", "content-length", "transfer-encoding", "connection"}


@dataclass
class Response:
    """What arrived of one response: status, headers (lower-case names), and whether the
    connection can carry another request. The body goes to the exchange's `on_body`."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    keep_alive: bool = True


class _Exchange:
    """One request's response, parsed from the bytes its connection receives."""

    def __init__(
        self,
        on_head: Callable[[Response], None],
        on_body: Callable[[bytes, float], None],
    ) -> None:
        self.on_head = on_head
        self.on_body = on_body
        self.response = Response()
        self.done: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.buf = b""
        self.state = "head"
        self.left = 0  # bytes left of the current chunk, or of a Content-Length body
        self.received = False  # any byte of a response arrived

    def feed(self, data: bytes, now: float) -> None:
        self.received = True
        self.buf = self.buf + data if self.buf else data
        while self.buf and not self.done.done():
            if not self._step(now):
                return

    def _step(self, now: float) -> bool:
        """Parse what the buffer allows in the current state; False: wait for more."""
        if self.state == "head":
            return self._head()
        if self.state == "length":
            piece, self.buf = self.buf[: self.left], self.buf[self.left :]
            self.left -= len(piece)
            self.on_body(piece, now)
            if self.left == 0:
                self._finish()
            return True
        if self.state == "close":
            piece, self.buf = self.buf, b""
            self.on_body(piece, now)
            return True
        return self._chunked(now)

    def _head(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end > MAX_HEAD or (end < 0 and len(self.buf) > MAX_HEAD):
            raise HttpError(f"a response head over {MAX_HEAD} bytes")
        if end < 0:
            return False
        text, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4 :]
        status_line, *lines = text.split("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise HttpError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        headers: dict[str, str] = {}
        for line in lines:
            name, sep, value = line.partition(":")
            if not sep:
                raise HttpError(f"a header line without a colon: {line[:80]!r}")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        status = int(code)
        if 100 <= status < 200:  # an interim response (103 Early Hints…): the real one follows
            if status == 101:
                raise HttpError("the server switched protocols")
            return True
        connection = headers.get("connection", "").lower()
        keep = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
        self.response = Response(status, headers, keep)
        self.on_head(self.response)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self.state = "size"
        elif "content-length" in headers:
            try:
                self.left = int(headers["content-length"])
            except ValueError:
                raise HttpError(f"Content-Length {headers['content-length'][:40]!r}") from None
            self.state = "length"
            if self.left == 0 or status in (204, 304):
                self._finish()
        elif status in (204, 304):
            self._finish()
        else:
            self.state = "close"
            self.response.keep_alive = False
        return True

    def _chunked(self, now: float) -> bool:
        if self.state == "data":
            piece, self.buf = self.buf[: self.left], self.buf[self.left :]
            self.left -= len(piece)
            self.on_body(piece, now)
            if self.left == 0:
                self.state = "crlf"
            return True
        end = self.buf.find(b"\r\n")
        if end < 0:
            if len(self.buf) > MAX_LINE:
                raise HttpError(f"a chunk line over {MAX_LINE} bytes")
            return False
        line, self.buf = self.buf[:end], self.buf[end + 2 :]
        if self.state == "crlf":
            if line:
                raise HttpError("a chunk longer than its size said")
            self.state = "size"
        elif self.state == "size":
            try:
                self.left = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HttpError(f"a chunk size {line[:40]!r}") from None
            self.state = "data" if self.left > 0 else "trailers"
        elif not line:  # the blank line after the trailers ends the body
            self._finish()
        return True

    def _finish(self) -> None:
        self.state = "done"
        if self.buf:  # bytes past the response: the connection cannot be trusted again
            self.response.keep_alive = False
        if not self.done.done():
            self.done.set_result(self.response)

    def closed(self, exc: BaseException | None) -> None:
        """The connection closed: the end of a close-delimited body, else a failure."""
        if self.done.done():
            return
        if self.state == "close":
            self._finish()
            return
        what = "before a response" if not self.received else "in the middle of a response"
        self.done.set_exception(ConnectionResetError(f"the server closed the connection {what}"))

    def fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


class _Connection(asyncio.Protocol):
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.exchange: _Exchange | None = None
        self.open = False
        self.used = False  # has carried a request before the current one

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.open = True

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        exchange = self.exchange
        if exchange is None:  # bytes nobody asked for: the connection is not ours to trust
            self.close()
            return
        try:
            exchange.feed(data, now)
        except Exception as exc:  # a parse error, or the body's own reader failing
            exchange.fail(exc)
            self.close()

    def eof_received(self) -> bool | None:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.pool.forget(self)
        if self.exchange is not None:
            self.exchange.closed(exc)

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()


class Pool:
    """Keep-alive connections to one target, for one event loop (one level's client)."""

    def __init__(self, to: Target, connect_timeout_s: float | None = None) -> None:
        self.to = to
        self.connect_timeout_s = connect_timeout_s
        self.idle: list[_Connection] = []

    def forget(self, conn: _Connection) -> None:
        if conn in self.idle:
            self.idle.remove(conn)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.connect_timeout_s):
            _, conn = await loop.create_connection(
                lambda: _Connection(self), self.to.host, self.to.port
            )
        return conn

    async def send(
        self,
        head: bytes,
        body: bytes,
        on_head: Callable[[Response], None],
        on_body: Callable[[bytes, float], None],
    ) -> Response:
        """Send `head` (from `head()`) and `body`, and wait for the whole response; its
        body goes to `on_body` piece by piece with the time each piece was read."""
        message = [head, b"Content-Length: %d\r\n\r\n" % len(body), body]
        for attempt in (1, 2):
            conn = self.idle.pop() if self.idle else await self._connect()
            reused = conn.used
            exchange = _Exchange(on_head, on_body)
            conn.exchange = exchange
            assert conn.transport is not None
            conn.transport.writelines(message)
            try:
                response = await exchange.done
            except ConnectionResetError:
                conn.exchange = None
                if reused and not exchange.received and attempt == 1:
                    continue  # the server had closed an idle connection: try a fresh one
                raise
            except BaseException:  # a timeout or cancel in the middle: the connection is spent
                conn.exchange = None
                conn.close()
                raise
            conn.exchange = None
            conn.used = True
            if response.keep_alive and conn.open:
                self.idle.append(conn)
            else:
                conn.close()
            return response
        raise AssertionError("unreachable")

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()
