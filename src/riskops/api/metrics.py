"""Prometheus metrics of the API process (GET /metrics)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS = Counter(
    "riskops_events_total", "Events received, by outcome.", ["status"], registry=REGISTRY
)
REQUESTS = Histogram(
    "riskops_http_request_seconds",
    "HTTP request latency by route and status class.",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
STATE_LAG = Gauge(
    "riskops_state_lag_events",
    "Logged events not yet applied to this process's online state.",
    registry=REGISTRY,
)
STATE_CURSOR = Gauge(
    "riskops_state_cursor", "Last log seq applied to the online state.", registry=REGISTRY
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


_ENDPOINT_PATHS: dict[object, str] = {}


def _route_path(scope: Scope) -> str:
    """The route template of the request (FastAPI sets ``route``; a plain Starlette route only
    ``endpoint``, whose template is looked up once)."""
    fixed = scope.get("riskops.route")
    if fixed is not None:
        return str(fixed)
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "unmatched"))
    endpoint = scope.get("endpoint")
    if endpoint is None:
        return "unmatched"
    if endpoint not in _ENDPOINT_PATHS:
        app = scope.get("app")
        for candidate in getattr(getattr(app, "router", None), "routes", []):
            if getattr(candidate, "endpoint", None) is endpoint:
                _ENDPOINT_PATHS[endpoint] = str(candidate.path)
                break
        else:
            return "unmatched"
    return _ENDPOINT_PATHS[endpoint]


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task): times each request by its route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            path = _route_path(scope)
            REQUESTS.labels(scope["method"], path, f"{status[0] // 100}xx").observe(
                time.perf_counter() - start
            )
