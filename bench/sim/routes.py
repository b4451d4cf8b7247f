"""The simulator's HTTP routes: vLLM's OpenAI-compatible API and its side doors.

Generation goes to `Simulator.generate`; the other routes answer from the simulator's
state as `vllm serve` would (models, health, version, Prometheus metrics, cache resets).
"""

from __future__ import annotations

import os
import time
from typing import Any

from aiohttp import web

from bench import __version__
from bench.sim.simulator import Simulator

API_KEY_ENV = "VLM_BENCH_SIM_API_KEY"


class Routes:
    """The request handlers of one simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def completions(self, request: web.Request) -> web.StreamResponse:
        return await self.sim.generate(request, chat=request.path.endswith("chat/completions"))

    async def models(self, request: web.Request) -> web.Response:
        p = self.sim.profile
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {
                        "id": p.served_model_name,
                        "object": "model",
                        "created": int(time.time()),
                        "owned_by": "vlm-bench-sim",
                        "root": p.served_model_name,
                        "parent": None,
                        "max_model_len": p.max_model_len,
                        "permission": [],
                    }
                ],
            }
        )

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def version(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"version": f"{__version__}+sim", "profile": self.sim.profile.name}
        )

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=self.sim.metrics.render(), content_type="text/plain")

    async def reset_prefix_cache(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def reset_mm_cache(self, request: web.Request) -> web.Response:
        self.sim.mm_cache.clear()
        return web.Response(status=200)


def build_app(sim: Simulator) -> web.Application:
    """The aiohttp application serving `sim`, behind an API key when one is set."""
    r = Routes(sim)
    middlewares = [_require_key(key)] if (key := os.environ.get(API_KEY_ENV)) else []
    app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=middlewares)
    app.router.add_post("/v1/chat/completions", r.completions)
    app.router.add_post("/v1/completions", r.completions)
    app.router.add_get("/v1/models", r.models)
    app.router.add_get("/health", r.health)
    app.router.add_get("/version", r.version)
    app.router.add_get("/metrics", r.metrics)
    app.router.add_post("/reset_prefix_cache", r.reset_prefix_cache)
    app.router.add_post("/reset_mm_cache", r.reset_mm_cache)
    return app


def _require_key(key: str) -> Any:
    """Like `vllm serve --api-key`: /v1/ routes answer 401 without `Authorization: Bearer
    KEY`. Taken from the environment, not a flag, so the key is on no command line."""

    @web.middleware
    async def check(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/v1/") and (
            request.headers.get("Authorization") != f"Bearer {key}"
        ):
            return web.json_response({"error": "Unauthorized"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    return check
