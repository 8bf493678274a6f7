"""The demo's tool service: HTTP tools with their own latency distributions and failure rates.

``POST /tools/{name}`` with a JSON body answers after a log-normal delay; a small share of calls
fail with a 5xx, and a smaller share hang past the agent's timeout, as real downstream APIs do.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from dataclasses import dataclass

from aiohttp import web

from ._http import AppServer

__all__ = ["ACCOUNT_TOOLS", "TOOLS", "ToolProfile", "ToolServer"]


@dataclass(frozen=True)
class ToolProfile:
    median_s: float
    spread: float
    """Log-normal sigma of the latency."""
    error_rate: float
    hang_rate: float
    """Share of calls that take far longer than any sane client timeout."""


TOOLS: dict[str, ToolProfile] = {
    "order_status": ToolProfile(0.08, 0.4, 0.01, 0.002),
    "shipping_eta": ToolProfile(0.15, 0.5, 0.02, 0.004),
    "refund_policy": ToolProfile(0.05, 0.3, 0.005, 0.0),
    "inventory": ToolProfile(0.12, 0.6, 0.02, 0.004),
    "customer_profile": ToolProfile(0.06, 0.3, 0.01, 0.002),
}
ACCOUNT_TOOLS: dict[str, ToolProfile] = {
    "payment_status": ToolProfile(0.10, 0.35, 0.005, 0.0),
    "loyalty_tier": ToolProfile(0.08, 0.35, 0.005, 0.0),
}
"""Tools the agent calls itself for account questions (the planner is not offered them)."""
HANG_S = 8.0


class ToolServer(AppServer):
    def __init__(self, *, seed: int = 11, error_scale: float = 1.0) -> None:
        self._rng = random.Random(seed)
        self.error_scale = error_scale
        self.calls = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/tools/{name}", self._call)
        app.router.add_get("/health", self.health)
        return app

    async def _call(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        profile = TOOLS.get(name) or ACCOUNT_TOOLS.get(name)
        if profile is None:
            return web.json_response({"error": f"unknown tool {name}"}, status=404)
        self.calls += 1
        try:
            arguments = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": "body must be JSON"}, status=400)
        draw = self._rng.random()
        if draw < profile.hang_rate * self.error_scale:
            await asyncio.sleep(HANG_S)
        delay = profile.median_s * math.exp(self._rng.gauss(0, profile.spread))
        await asyncio.sleep(min(delay, 5.0))
        if draw > 1 - profile.error_rate * self.error_scale:
            return web.json_response({"error": "upstream unavailable"}, status=503)
        return web.json_response({"tool": name, "order": arguments.get("order_id"), "result": f"{name}: ok"})
