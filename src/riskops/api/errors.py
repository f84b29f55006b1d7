"""The one error handler: every error leaves as JSON ``{"error": {code, message, problems}}``."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from riskops.errors import Problem, RiskopsError, Unavailable, ValidationFailed

log = logging.getLogger("riskops.api")


def json_response(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RiskopsError)
    async def _riskops(_: Request, exc: RiskopsError) -> Response:
        return json_response(exc.as_dict(), exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        problems = [
            Problem(".".join(str(p) for p in e["loc"]), str(e["msg"])) for e in exc.errors()
        ]
        err = ValidationFailed("invalid request", problems)
        return json_response(err.as_dict(), err.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return json_response({"error": {"code": code, "message": str(exc.detail)}}, exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        if type(exc).__name__ in {"OperationalError", "ConnectionError", "RedisError"}:
            err = Unavailable(f"a dependency is unavailable: {type(exc).__name__}")
            return json_response(err.as_dict(), err.status)
        log.exception("unhandled error")
        return json_response(
            {"error": {"code": "internal_error", "message": "internal error"}}, 500
        )
