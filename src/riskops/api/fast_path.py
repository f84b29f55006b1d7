"""The two hot paths - ``POST /v1/events`` and ``POST /v1/decisions/{checkpoint}`` - served
before the app's middleware stack: no routing, no dependency solving, no per-request exit
stacks or middleware layers. The answers are byte-for-byte what the FastAPI routes would give
(same code: :func:`riskops.api.routes.events.post_events_lean` and
:func:`riskops.api.routes.decisions.post_decision_lean`); they are timed in the request metrics,
and an unexpected error is a JSON 500 as from the app's error handler."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from riskops.api.errors import json_response
from riskops.api.metrics import REQUESTS, Message, Scope
from riskops.api.routes.decisions import post_decision_lean
from riskops.api.routes.events import post_events_lean

PATH = "/v1/events"
DECISIONS = "/v1/decisions/"
DECISIONS_ROUTE = "/v1/decisions/{checkpoint}"

log = logging.getLogger("riskops.api")


class RiskopsApi(FastAPI):
    """FastAPI, with the hot paths answered first."""

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path == PATH:
                await self._fast(scope, receive, send, PATH, None)
                return
            if path.startswith(DECISIONS) and "/" not in path[len(DECISIONS) :]:
                await self._fast(scope, receive, send, DECISIONS_ROUTE, path[len(DECISIONS) :])
                return
        await super().__call__(scope, receive, send)

    async def _fast(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
        route: str,
        checkpoint: str | None,
    ) -> None:
        start = time.perf_counter()
        scope["app"] = self
        request = Request(scope, receive)
        response: Response
        try:
            if checkpoint is None:
                response = await post_events_lean(request)
            else:
                response = await post_decision_lean(request, checkpoint)
        except Exception:
            log.exception("unhandled error")
            response = json_response(
                {"error": {"code": "internal_error", "message": "internal error"}}, 500
            )
        await response(scope, receive, send)
        status = f"{response.status_code // 100}xx"
        REQUESTS.labels("POST", route, status).observe(time.perf_counter() - start)
