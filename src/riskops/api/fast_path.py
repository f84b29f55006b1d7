"""A pure ASGI middleware that serves ``POST /v1/events`` directly: no routing, no
dependency solving, no per-request exit stacks. The answer is byte-for-byte what the FastAPI
route would give (same code: :func:`riskops.api.routes.events.post_events_lean`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from riskops.api.metrics import ASGIApp, Message, Scope
from riskops.api.routes.events import post_events_lean

PATH = "/v1/events"


class IngestFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == PATH:
            scope["riskops.route"] = PATH
            response = await post_events_lean(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
