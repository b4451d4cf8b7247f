"""The lean sender's HTTP/1.1 client (bench/load/http1.py) over real loopback sockets:
against the simulator (keep-alive, streams), and against a scripted server that answers
with the bytes each test gives it, for every way a response may be framed, cut or broken.
Also which URLs it leaves to aiohttp."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.load import http1
from tests.support.sim import Sim, chat_body

pytestmark = pytest.mark.integration

Script = Callable[[int, bytes], list[bytes] | None]  # (request number, its bytes) → replies


async def scripted(script: Script) -> tuple[asyncio.Server, http1.Target, list[bytes]]:
    """A server that answers request n with script(n, request): its byte strings written
    one by one (then the connection closes if the script's last one is b""), None: close
    at once. Keeps every request's bytes."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = await reader.readexactly(length)
                seen.append(head + body)
                replies = script(len(seen), head + body)
                if replies is None:
                    break
                for piece in replies:
                    if piece == b"":
                        writer.close()
                        return
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.001)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    target = http1.target(f"http://127.0.0.1:{port}/v1/chat/completions")
    assert target is not None
    return server, target, seen


class Collected:
    def __init__(self) -> None:
        self.response: http1.Response | None = None
        self.body = b""
        self.times: list[float] = []

    def head(self, response: http1.Response) -> None:
        self.response = response

    def piece(self, data: bytes, now: float) -> None:
        self.body += data
        self.times.append(now)


def exchange(
    script: Script, sends: int = 1, timeout: float = 10
) -> tuple[list[Collected], list[bytes]]:
    """`sends` requests one after another through one pool against `script`."""

    async def go() -> tuple[list[Collected], list[bytes]]:
        server, target, seen = await scripted(script)
        pool = http1.Pool(target)
        head = http1.head("POST", target, {"Content-Type": "application/json"})
        assert head is not None
        out = []
        try:
            for n in range(sends):
                got = Collected()
                async with asyncio.timeout(timeout):
                    await pool.send(head, b'{"n": %d}' % n, got.head, got.piece)
                out.append(got)
        finally:
            pool.close()
            server.close()
        return out, seen

    return asyncio.run(go())


def chunked(*pieces: bytes, ext: bytes = b"") -> list[bytes]:
    out = [b"%x%s\r\n%s\r\n" % (len(p), ext, p) for p in pieces]
    return [*out, b"0\r\nX-Trailer: 1\r\n\r\n"]


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def test_a_chunked_stream_with_extensions_and_trailers_is_read_whole() -> None:
    (got,), seen = exchange(
        lambda n, r: [SSE_HEAD, *chunked(b"data: 1\n\n", b"data: 2\n\n", ext=b";x=y")]
    )
    assert got.response is not None and got.response.status == 200
    assert got.body == b"data: 1\n\ndata: 2\n\n"
    assert len(got.times) == 2 and got.times[0] <= got.times[1]  # each piece its own read time
    request = seen[0]
    assert request.startswith(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"Content-Length: 8\r\n\r\n" in request and request.endswith(b'{"n": 0}')
    assert b"accept-encoding" not in request.lower()  # nothing compressed is asked for


def test_every_cut_of_a_response_gives_the_same_body() -> None:
    whole = SSE_HEAD + b"".join(chunked(b"data: one\n\n", b"data: two\n\n"))
    for cut in range(1, len(whole), 7):
        (got,), _ = exchange(lambda n, r, cut=cut: [whole[:cut], whole[cut:]])
        assert got.body == b"data: one\n\ndata: two\n\n", f"cut at {cut}"


def test_a_kept_alive_connection_carries_the_next_request() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    got, seen = exchange(lambda n, r: [reply], sends=3)
    assert [g.body for g in got] == [b"ok"] * 3 and len(seen) == 3


def test_an_interim_response_is_skipped_and_a_close_delimited_body_read_to_the_end() -> None:
    early = b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
    body = b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n"
    (got,), _ = exchange(lambda n, r: [early, body, b"data: 2\n\n", b""])
    assert got.response is not None and not got.response.keep_alive
    assert got.body == b"data: 1\n\ndata: 2\n\n"


def test_a_connection_the_server_closed_is_replaced_and_the_request_sent_again() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    # Request 2 arrives on the kept-alive connection, which the server then drops unanswered.
    got, seen = exchange(lambda n, r: None if n == 2 else [reply], sends=2)
    assert [g.body for g in got] == [b"ok", b"ok"]
    assert len(seen) == 3 and seen[1] == seen[2]


@pytest.mark.parametrize(
    "replies, message",
    [
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", b""], "in the middle of a response"),
        ([b"SSH-2.0-OpenSSH\r\n\r\n"], "not an HTTP/1.x status line"),
        ([b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n"], "response head over"),
        ([SSE_HEAD, b"zz\r\n"], "chunk size"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"], "Content-Length"),
        ([b"HTTP/1.1 200 OK\r\nbroken line\r\n\r\n"], "without a colon"),
    ],
)
def test_a_broken_answer_is_an_error_that_says_what_broke(
    replies: list[bytes], message: str
) -> None:
    with pytest.raises((http1.HttpError, ConnectionResetError), match=message):
        exchange(lambda n, r: replies)


def test_a_server_that_never_answers_runs_into_the_timeout() -> None:
    with pytest.raises(TimeoutError):
        exchange(lambda n, r: [b"HTTP/1.1 200 OK\r\n"], timeout=0.5)


def test_against_the_simulator_a_stream_arrives_piece_by_piece(sim: Sim) -> None:
    target = http1.target(sim.url("/v1/chat/completions"))
    assert target is not None
    body = json.dumps({**chat_body(max_tokens=4), "stream": True}).encode()

    async def go() -> list[Collected]:
        pool = http1.Pool(target)
        head = http1.head("POST", target, {"Content-Type": "application/json"})
        assert head is not None
        out = []
        for _ in range(2):
            got = Collected()
            response = await pool.send(head, body, got.head, got.piece)
            assert response.keep_alive
            out.append(got)
        assert len(pool.idle) == 1  # the same connection both times
        pool.close()
        return out

    for got in asyncio.run(go()):
        assert got.response is not None and got.response.status == 200
        events = [line for line in got.body.split(b"\n\n") if line.startswith(b"data: {")]
        assert len(events) >= 4 and got.body.rstrip().endswith(b"data: [DONE]")
        assert len(got.times) >= 4  # the tokens came as they were written, not at the end


def test_which_urls_are_left_to_aiohttp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    assert http1.target("http://127.0.0.1:8000/v1/chat/completions?a=1") == http1.Target(
        "127.0.0.1", 8000, "/v1/chat/completions?a=1", "127.0.0.1:8000"
    )
    assert http1.target("http://[::1]/x") == http1.Target("::1", 80, "/x", "[::1]")
    assert http1.target("https://127.0.0.1:8000/x") is None
    assert http1.target("http://user:secret@127.0.0.1:8000/x") is None
    assert http1.target("http://127.0.0.1:99999/x") is None
    (tmp_path / "netrc").write_text("machine 127.0.0.2 login u password p\n")
    assert http1.target("http://127.0.0.2:8000/x") is None
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:3128")
    assert http1.target("http://127.0.0.1:8000/x") is None
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert http1.target("http://127.0.0.1:8000/x") is not None


def test_a_header_that_cannot_go_out_as_it_is_is_left_to_aiohttp() -> None:
    to = http1.Target("127.0.0.1", 80, "/x", "127.0.0.1")
    assert http1.head("POST", to, {"X-A": "b"}) is not None
    assert http1.head("POST", to, {"X-A": "b\r\nX-Injected: 1"}) is None
    assert http1.head("POST", to, {"X-A": "☃"}) is None
    assert http1.head("POST", to, {"Content-Length": "5"}) is None
