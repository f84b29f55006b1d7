"""Request dependencies: the runtime, and API-key checks by scope."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import Request

from riskops.services.runtime import Runtime
from riskops.stores.base import ApiKeyRow


async def runtime(request: Request) -> Runtime:
    # async: FastAPI runs sync dependencies in a thread pool, a hand-off per request
    return _runtime(request)


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def require(scope: str) -> Callable[[Request], Awaitable[ApiKeyRow]]:
    async def check(request: Request) -> ApiKeyRow:
        keys = _runtime(request).keys
        token = _token(request)
        if keys.is_cached(token):  # the common case: no I/O, stay on the event loop
            return keys.verify(token, scope)
        return await asyncio.to_thread(keys.verify, token, scope)

    check.__name__ = f"require_{scope}"
    return check
