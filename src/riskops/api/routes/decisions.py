"""Decisions at checkpoints, and ruleset versions."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from riskops.api.body import decode_json, read_body
from riskops.api.deps import require, runtime
from riskops.api.errors import json_response
from riskops.errors import Problem, RiskopsError, ValidationFailed
from riskops.services.runtime import Runtime
from riskops.stores.base import ApiKeyRow

router = APIRouter(tags=["decisions"])


@router.post(
    "/v1/decisions/{checkpoint}",
    summary="Decide on an event at a checkpoint",
    description=(
        "The body is one event envelope (see GET /v1/schema) of a type the checkpoint takes; "
        "it is recorded in the event log too. The answer: decision_id, outcome (allow / "
        "challenge / review / deny), actions, score 0-100, reasons (rule id, English and "
        "Chinese text, the values that made it fire), shadow hits, rule errors, versions and "
        "latency. Features are as they were before this event."
    ),
)
async def post_decision(
    checkpoint: str,
    request: Request,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("decide")),
) -> Response:
    """Served by the app's fast path (:func:`post_decision_lean`); this route documents it."""
    return await decide_request(request, checkpoint)


async def post_decision_lean(request: Request, checkpoint: str) -> Response:
    """The hot path: auth and errors handled here, exactly as the FastAPI route and the
    app's error handler would."""
    try:
        await require("decide")(request)
        return await decide_request(request, checkpoint)
    except RiskopsError as exc:
        return json_response(exc.as_dict(), exc.status)


async def decide_request(request: Request, checkpoint: str) -> Response:
    rt: Runtime = request.app.state.runtime
    data = decode_json(await read_body(request, rt.settings.max_body_bytes))
    if not isinstance(data, dict):
        raise ValidationFailed("invalid body", [Problem("body", "expected one event object")])
    if rt.state.in_process and not rt.decisions.reads_graph(checkpoint):
        # CPU only: shorter than a hand-off to a thread and back
        pending = rt.decisions.evaluate(checkpoint, data)
    else:  # the state (or the graph) is read over the network / from the database
        pending = await asyncio.to_thread(rt.decisions.evaluate, checkpoint, data)
    # the event and its decision commit together, group-committed with concurrent requests
    (logged,) = await request.app.state.committer.submit([pending.prepared], [pending.row])
    if logged.status == "duplicate":  # rare: a retry, or an event ingested before
        settled = await asyncio.to_thread(rt.decisions.settle, pending, True)
        return json_response(settled)
    return json_response(pending.response)


@router.get("/v1/decisions/{decision_id}", summary="A decision with its full evaluation trace")
def get_decision(
    decision_id: str,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    return json_response(rt.decisions.get(decision_id))
