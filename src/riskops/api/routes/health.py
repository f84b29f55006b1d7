"""Liveness, readiness, metrics and the event catalogue's JSON Schema. No key needed."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from riskops.api.deps import runtime
from riskops.api.errors import json_response
from riskops.api.metrics import REGISTRY, STATE_CURSOR, STATE_LAG
from riskops.core.events.schema import catalogue_schema
from riskops.errors import RiskopsError
from riskops.services.runtime import Runtime

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz", summary="Readiness: database and state reachable, state caught up")
async def readyz(rt: Runtime = Depends(runtime)) -> Response:
    checks: dict[str, str] = {}
    ready = True
    try:
        await asyncio.to_thread(rt.store.ping)
        checks["database"] = "ok"
    except RiskopsError as exc:
        checks["database"] = str(exc)
        ready = False
    try:
        lag = await asyncio.to_thread(rt.projector.lag)
        checks["state_lag_events"] = str(lag)
        STATE_LAG.set(lag)
        STATE_CURSOR.set(rt.state.cursor())
    except Exception as exc:  # Redis or database down: not ready, and say why
        checks["state"] = f"unavailable: {type(exc).__name__}: {exc}"
        ready = False
    return json_response(
        {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
    )


@router.get("/metrics", summary="Prometheus metrics")
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/schema", summary="JSON Schema of the event catalogue", tags=["events"])
async def schema() -> Response:
    return json_response(_schema())


@lru_cache(maxsize=1)
def _schema() -> dict[str, object]:
    return catalogue_schema()
