"""Request dependencies: the runtime, and API-key checks by scope."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from riskops.services.runtime import Runtime
from riskops.stores.base import ApiKeyRow


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def require(scope: str) -> Callable[[Request], ApiKeyRow]:
    def check(request: Request) -> ApiKeyRow:
        return runtime(request).keys.verify(_token(request), scope)

    check.__name__ = f"require_{scope}"
    return check
