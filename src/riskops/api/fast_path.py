"""A pure ASGI middleware that serves the two hot paths directly - ``POST /v1/events`` and
``POST /v1/decisions/{checkpoint}`` - with no routing, no dependency solving and no
per-request exit stacks. The answers are byte-for-byte what the FastAPI routes would give
(same code: :func:`riskops.api.routes.events.post_events_lean` and
:func:`riskops.api.routes.decisions.post_decision_lean`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from riskops.api.metrics import ASGIApp, Message, Scope
from riskops.api.routes.decisions import post_decision_lean
from riskops.api.routes.events import post_events_lean

PATH = "/v1/events"
DECISIONS = "/v1/decisions/"
DECISIONS_ROUTE = "/v1/decisions/{checkpoint}"


class IngestFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path == PATH:
                scope["riskops.route"] = PATH
                response = await post_events_lean(Request(scope, receive))
                await response(scope, receive, send)
                return
            if path.startswith(DECISIONS) and "/" not in path[len(DECISIONS) :]:
                scope["riskops.route"] = DECISIONS_ROUTE
                checkpoint = path[len(DECISIONS) :]
                response = await post_decision_lean(Request(scope, receive), checkpoint)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
