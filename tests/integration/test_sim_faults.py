"""Every fault the simulator can inject, observed from a real client."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from bench.sim.faults import EXIT_CRASH
from tests.support.sim import Sim, chat_body

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ready_delay_keeps_the_port_closed(sim_factory: Callable[..., Sim]) -> None:
    port = free_port()
    t0 = time.monotonic()
    sim = sim_factory("--ready-delay", "2", port=port, wait=False)
    time.sleep(0.8)
    with pytest.raises(ConnectionRefusedError):
        sim.get("/health")
    while True:
        try:
            status, _ = sim.get("/health")
            break
        except ConnectionRefusedError:
            assert time.monotonic() - t0 < 30
            time.sleep(0.05)
    assert status == 200 and time.monotonic() - t0 >= 2.0


@pytest.mark.parametrize("status", [500, 429])
def test_every_kth_request_fails(sim_factory: Callable[..., Sim], status: int) -> None:
    sim = sim_factory("--error-every", "2", "--error-status", str(status))
    got = [sim.post("/v1/chat/completions", chat_body())[0] for _ in range(4)]
    assert got == [200, status, 200, status]
    assert [line["outcome"] for line in sim.trace_lines()].count(f"error {status}") == 2


def test_stream_dropped_mid_way(sim_factory: Callable[..., Sim]) -> None:
    sim = sim_factory("--drop-every", "1", "--drop-after-tokens", "3")
    s = sim.stream(chat_body(max_tokens=10))
    assert s.status == 200
    assert len(s.content_chunks) == 3
    assert "[DONE]" not in [e for _, e in s.events]
    assert sim.trace_lines()[0]["outcome"] == "dropped"
    assert sim.get("/health")[0] == 200


def test_process_exits_after_n_requests(sim_factory: Callable[..., Sim]) -> None:
    sim = sim_factory("--exit-after", "2")
    assert [sim.post("/v1/chat/completions", chat_body())[0] for _ in range(2)] == [200, 200]
    with pytest.raises((ConnectionError, OSError)):
        sim.post("/v1/chat/completions", chat_body())
    assert sim.proc.wait(10) == EXIT_CRASH
    assert len(sim.trace_lines()) == 2


def test_engine_stall_delays_tokens(sim_factory: Callable[..., Sim]) -> None:
    sim = sim_factory("--stall-every", "2", "--stall-s", "0.6")
    t0 = time.perf_counter()
    quick = sim.stream(chat_body(max_tokens=3))
    quick_ttft = quick.events[1][0] - t0
    t1 = time.perf_counter()
    stalled = sim.stream(chat_body(max_tokens=3))
    assert stalled.events[1][0] - t1 >= 0.6
    assert quick_ttft < stalled.events[1][0] - t1


def test_truncated_output_despite_ignore_eos(sim_factory: Callable[..., Sim]) -> None:
    sim = sim_factory("--truncate-output", "5")
    status, body = sim.post("/v1/chat/completions", chat_body(max_tokens=16))
    assert status == 200
    assert body["usage"]["completion_tokens"] == 5
    assert body["choices"][0]["finish_reason"] == "stop"


def test_port_in_use_is_a_clear_error(sim_factory: Callable[..., Sim], tmp_path) -> None:
    sim = sim_factory()
    other = sim_factory("--port", str(sim.port), wait=False)
    assert other.proc.wait(30) == 2
    assert "cannot listen on 127.0.0.1" in other.log.read_text()
    assert "Traceback" not in other.log.read_text()


def test_sigterm_with_streams_in_flight_exits_promptly(sim_factory: Callable[..., Sim]) -> None:
    """Regression: the engine stopped first and in-flight handlers waited for tokens that
    never came, so shutdown hung for aiohttp's 60 s grace period."""
    import signal
    import threading

    sim = sim_factory("--set", "decode_base_s=0.05")
    streams = [
        threading.Thread(target=sim.stream, args=(chat_body(max_tokens=2000),)) for _ in range(3)
    ]
    for t in streams:
        t.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    sim.proc.send_signal(signal.SIGTERM)
    assert sim.proc.wait(10) == 0
    assert time.monotonic() - t0 < 5
    for t in streams:
        t.join(10)
    assert [line["outcome"] for line in sim.trace_lines()] == ["dropped"] * 3
