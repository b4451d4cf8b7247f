"""bench.serve.http against servers that do not speak HTTP properly: every failure is an
OSError (which each caller turns into its one-line message), never a traceback."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from bench.serve import http


@pytest.fixture(params=[b"HELLO\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"])
def liar(request: pytest.FixtureRequest) -> Iterator[str]:
    """A loopback server that answers every connection with the same bytes, then closes:
    a bad status line, or a body cut short of its Content-Length."""
    answer: bytes = request.param
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                conn.recv(65536)
                conn.sendall(answer)
                # Read what the client still sends until it closes: closing with unread
                # data would reset the connection, and the client would see that instead.
                conn.shutdown(socket.SHUT_WR)
                with contextlib.suppress(OSError):
                    while conn.recv(65536):
                        pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1/models"
    listener.close()


def test_an_answer_that_is_not_http_is_an_oserror(liar: str) -> None:
    with pytest.raises(OSError, match="not an HTTP answer"):
        http.get(liar, timeout=5)
    with pytest.raises(OSError, match="not an HTTP answer"):
        http.post_json(liar, b"{}", timeout=5)
    assert http.get_text(liar, timeout=5) is None
