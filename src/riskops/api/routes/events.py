"""POST /v1/events (one event or a batch) and GET /v1/events/{event_id}."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from riskops.api.body import decode_json, read_body
from riskops.api.deps import require, runtime
from riskops.api.errors import json_response
from riskops.api.metrics import EVENTS
from riskops.errors import BadRequest, NotFound, PayloadTooLarge, Problem, RiskopsError
from riskops.services.runtime import Runtime
from riskops.stores.base import ApiKeyRow

router = APIRouter(prefix="/v1/events", tags=["events"])

_EXAMPLE = {
    "event_id": "evt-000123",
    "type": "order.placed",
    "occurred_at": "2026-11-27T10:15:00Z",
    "market": "ID",
    "user_id": "u-42",
    "device": {
        "user_agent": "Mozilla/5.0 (Linux; Android 14)",
        "model": "SM-A155F",
        "os": "Android",
        "screen": "1080x2340",
        "timezone": "Asia/Jakarta",
        "language": "id-ID",
    },
    "ip": "203.0.113.7",
    "payload": {
        "order_id": "o-9001",
        "items": [{"sku": "sku-1", "merchant_id": "m-7", "price": 120000, "qty": 1}],
        "currency": "IDR",
        "payment_method": "cod",
        "shipping_address": {"line1": "Jl. Sudirman No. 5", "city": "Jakarta", "country": "ID"},
    },
}


@router.post(
    "",
    summary="Send one event, or a batch of up to 1,000",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [{"type": "object"}, {"type": "array", "maxItems": 1000}],
                        "description": "An event (see GET /v1/schema) or an array of them.",
                    },
                    "example": _EXAMPLE,
                }
            },
        }
    },
    responses={
        201: {"description": "Accepted: stored durably, applied once."},
        200: {
            "description": "Duplicate of an event already stored (`duplicate: true`), or "
            "a batch with one result per item."
        },
        400: {"description": "Body is not JSON / not UTF-8."},
        413: {"description": "Body or batch too large."},
        422: {"description": "The event is invalid; `problems` names each field."},
    },
)
async def post_events(
    request: Request,
    _rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("ingest")),
) -> Response:
    """Declared for the OpenAPI schema (and used if the lean route is not installed); the app
    serves this path with :func:`post_events_lean`, which does the same without FastAPI's
    per-request dependency machinery."""
    return await ingest_request(request)


async def post_events_lean(request: Request) -> Response:
    """The hot path: a plain Starlette endpoint. Auth and errors are handled here, exactly as
    the FastAPI route and the app's error handler would."""
    try:
        await require("ingest")(request)
        return await ingest_request(request)
    except RiskopsError as exc:
        return json_response(exc.as_dict(), exc.status)


async def ingest_request(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    settings = rt.settings
    data = decode_json(await read_body(request, settings.max_body_bytes))
    committer = request.app.state.committer
    if isinstance(data, list):
        if not data:
            raise BadRequest("empty batch", [Problem("body", "a batch needs at least 1 event")])
        if len(data) > settings.max_batch:
            raise PayloadTooLarge(
                f"batch of {len(data)} events is over the limit of {settings.max_batch}",
                [Problem("body", f"at most {settings.max_batch} events per request")],
            )
        good, bad = await asyncio.to_thread(rt.ingest.prepare, data)
        results = await committer.submit(good) + bad
        results.sort(key=lambda r: r.index)
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for r in results:
            counts[r.status] += 1
        for status, n in counts.items():
            EVENTS.labels(status).inc(n)
        return json_response(
            {
                "accepted": counts["accepted"],
                "duplicates": counts["duplicate"],
                "rejected": counts["rejected"],
                "results": [r.as_dict() for r in results],
            }
        )
    good, bad = rt.ingest.prepare([data])
    if bad:
        EVENTS.labels("rejected").inc()
        result = bad[0]
        return json_response(
            {
                "error": {
                    "code": "validation_failed",
                    "message": "invalid event",
                    "event_id": result.event_id,
                    "problems": [p.as_dict() for p in result.problems],
                }
            },
            422,
        )
    (result,) = await committer.submit(good)
    EVENTS.labels(result.status).inc()
    duplicate = result.status == "duplicate"
    return json_response(
        {"event_id": result.event_id, "seq": result.seq, "duplicate": duplicate},
        200 if duplicate else 201,
    )


@router.get("/{event_id:path}", summary="Read one stored event")
def get_event(
    event_id: str,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    record = rt.ingest.stored(event_id)
    if record is None:
        raise NotFound(f"no event {event_id!r}")
    return json_response(record)
