"""The simulator as a server process: bind, serve until SIGINT or SIGTERM, shut down.

The parts: `simulator` (the timing model in real time and one request's life),
`stream` (writing the tokens), `routes` (the HTTP API), `faults` (injected failures),
`record` (each request's trace line and the vLLM metrics it feeds).

Ground truth: with a trace file, every request leaves one JSON line with server times
(`time.perf_counter()`, the clock evalscope uses for its own records, so both can be
compared directly) of arrival, engine entry, admission, the model's first/last token and
the moments the first/last token were actually written to the socket.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.errors import UserError
from bench.sim.routes import build_app
from bench.sim.simulator import Simulator

log = logging.getLogger("bench.sim")


def run(
    profile: Any,
    host: str,
    port: int,
    tokenizer_dir: str,
    seed: int,
    trace_path: Path | None,
    port_file: Path | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then close the socket and the trace and return."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(
            _serve_until_signal(profile, host, port, tokenizer_dir, seed, trace_path, port_file)
        )


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (the simulator's servers run on it)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - evalscope's perf extra installs it
        return None
    return uvloop.new_event_loop


async def _serve_until_signal(*args: Any) -> None:
    task = asyncio.ensure_future(serve(*args))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        log.info("simulator stopped")


async def serve(
    profile: Any,
    host: str,
    port: int,
    tokenizer_dir: str,
    seed: int,
    trace_path: Path | None,
    port_file: Path | None = None,
) -> None:
    """Run until cancelled."""
    if profile.faults.ready_delay_s:
        log.info("fault injection: binding the port in %.1f s", profile.faults.ready_delay_s)
        await asyncio.sleep(profile.faults.ready_delay_s)
    trace = trace_path.open("a", buffering=1) if trace_path else None
    sim = Simulator(profile, tokenizer_dir, seed, trace)
    runner = web.AppRunner(
        build_app(sim), access_log=None, handle_signals=False, shutdown_timeout=5.0
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # Everything allocated so far lives for the whole run: take it out of the collector's
    # view, so a full collection cannot stall the engine loop for tens of milliseconds.
    gc.collect()
    gc.freeze()
    engine_task = asyncio.create_task(sim.engine_loop())
    bound = runner.addresses[0][1]
    log.info(
        "vlm-bench simulator (profile %s, time scale %g) listening on http://%s:%d",
        profile.name,
        profile.time_scale,
        host,
        bound,
    )
    if port_file is not None:
        port_file.write_text(str(bound))
    try:
        await asyncio.Event().wait()
    finally:
        engine_task.cancel()
        sim.close()
        await runner.cleanup()
        if trace:
            trace.close()
