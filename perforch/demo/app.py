"""A small HTTP API to try perforch against, and to check what the load tools really sent.

Endpoints: POST /auth/login -> {"ok": true, "token"}; GET /api/items (Bearer token) -> items;
POST /api/orders (Bearer) -> 201 + X-Order-Id; GET /api/orders/{id} (Bearer); GET /api/slow
(~50-150 ms, slower under concurrency); GET /api/flaky (500 on ~5% of requests); GET /health.

It counts what it receives (GET /__stats, POST /__reset): requests per endpoint, unauthorized
requests, and requests that still carried an unfilled `${...}` anywhere (path, query, headers,
body) — the equivalence tests read these counts.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from collections import Counter

from aiohttp import web

ITEMS = [{"id": i, "name": f"item {i}", "price": round(3.5 * i, 2)} for i in range(1, 21)]
SLOW_BASE_S = 0.05
SLOW_SPREAD_S = 0.1
SLOW_PER_INFLIGHT_S = 0.004  # each concurrent slow request adds 4 ms: latency grows with load
FLAKY_RATE = 0.05


class Counters:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests: Counter[str] = Counter()
        self.unauthorized = 0
        self.unfilled = 0
        self.tokens: dict[str, str] = {}
        self.orders: dict[str, dict] = {}
        self.logins: Counter[str] = Counter()
        self.inflight_slow = 0


def make_app(seed: int | None = None) -> web.Application:
    rng = random.Random(seed)
    state = Counters()

    @web.middleware
    async def count(request: web.Request, handler):  # noqa: ANN001, ANN202
        if not request.path.startswith("/__"):
            body = await request.read()
            raw = request.path_qs + "".join(f"{k}{v}" for k, v in request.headers.items())
            if "${" in raw or b"${" in body:
                state.unfilled += 1
            route = request.match_info.route.resource
            key = f"{request.method} {route.canonical if route else request.path}"
            state.requests[key] += 1
        return await handler(request)

    def authorized(request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        ok = header.startswith("Bearer ") and header[7:] in state.tokens
        if not ok:
            state.unauthorized += 1
        return ok

    async def login(request: web.Request) -> web.Response:
        try:
            payload = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"ok": False, "error": "body is not JSON"}, status=400)
        email, password = payload.get("email"), payload.get("password")
        if not isinstance(email, str) or not email or not isinstance(password, str) or not password:
            return web.json_response({"ok": False, "error": "email and password required"}, status=401)
        token = secrets.token_hex(16)
        state.tokens[token] = email
        state.logins[email] += 1
        return web.json_response({"ok": True, "token": token})

    async def items(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        page = int(request.query.get("page", "1") or 1)
        return web.json_response({"page": page, "items": ITEMS[(page - 1) * 10: page * 10]})

    async def create_order(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        try:
            payload = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        order_id = secrets.token_hex(6)
        state.orders[order_id] = {"id": order_id, "item": payload.get("item"), "status": "confirmed"}
        return web.json_response(state.orders[order_id], status=201, headers={"X-Order-Id": order_id})

    async def get_order(request: web.Request) -> web.Response:
        if not authorized(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        order = state.orders.get(request.match_info["order_id"])
        if order is None:
            return web.json_response({"error": "no such order"}, status=404)
        return web.json_response(order)

    async def slow(request: web.Request) -> web.Response:
        state.inflight_slow += 1
        try:
            delay = SLOW_BASE_S + rng.random() * SLOW_SPREAD_S + SLOW_PER_INFLIGHT_S * state.inflight_slow
            await asyncio.sleep(delay)
        finally:
            state.inflight_slow -= 1
        return web.json_response({"report": "done", "took_ms": round(delay * 1000, 1)})

    async def flaky(request: web.Request) -> web.Response:
        if rng.random() < FLAKY_RATE:
            return web.json_response({"error": "transient failure"}, status=500)
        return web.json_response({"results": [], "q": request.query.get("q", "")})

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({
            "method": request.method,
            "path_qs": request.raw_path,
            "headers": dict(request.headers),
            "body": body.decode("utf-8", "replace"),
        })

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({
            "requests": dict(state.requests),
            "unauthorized": state.unauthorized,
            "unfilled": state.unfilled,
            "logins": dict(state.logins),
        })

    async def reset(request: web.Request) -> web.Response:
        state.reset()
        return web.json_response({"reset": True})

    app = web.Application(middlewares=[count], client_max_size=1024 ** 2)
    app.add_routes([
        web.post("/auth/login", login),
        web.get("/api/items", items),
        web.post("/api/orders", create_order),
        web.get("/api/orders/{order_id}", get_order),
        web.get("/api/slow", slow),
        web.get("/api/flaky", flaky),
        web.route("*", "/echo", echo),
        web.get("/health", health),
        web.get("/__stats", stats),
        web.post("/__reset", reset),
    ])
    return app


def serve(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the demo API in this process until interrupted."""
    web.run_app(make_app(), host=host, port=port, print=None, access_log=None)


if __name__ == "__main__":
    import sys

    serve(port=int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
