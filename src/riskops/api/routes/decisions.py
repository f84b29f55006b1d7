"""Decisions at checkpoints, and ruleset versions."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from riskops.api.body import decode_json, read_body, read_text
from riskops.api.deps import require, runtime
from riskops.api.errors import json_response
from riskops.core.events.envelope import to_us
from riskops.errors import Problem, ValidationFailed
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
    data = decode_json(await read_body(request, rt.settings.max_body_bytes))
    if not isinstance(data, dict):
        raise ValidationFailed("invalid body", [Problem("body", "expected one event object")])
    pending = await asyncio.to_thread(rt.decisions.evaluate, checkpoint, data)
    # the event and its decision commit together, group-committed with concurrent requests
    rows = [pending.row] if pending.row else []
    await request.app.state.committer.submit([pending.prepared], rows)
    return json_response(pending.response)


@router.get("/v1/decisions/{decision_id}", summary="A decision with its full evaluation trace")
def get_decision(
    decision_id: str,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    return json_response(rt.decisions.get(decision_id))


@router.post(
    "/v1/rulesets/{checkpoint}",
    summary="Push a ruleset (YAML) as the checkpoint's next version",
    description="The body is the YAML text. It is validated (every problem with its place) "
    "and stored as a new immutable version, not yet active. `?note=` describes the change.",
)
async def push_ruleset(
    checkpoint: str,
    request: Request,
    note: str = "",
    rt: Runtime = Depends(runtime),
    key: ApiKeyRow = Depends(require("admin")),
) -> Response:
    text = await read_text(request, rt.settings.max_body_bytes)
    pushed = rt.rules.push(text, key.name, note, checkpoint)
    return json_response(
        {"checkpoint": pushed.checkpoint, "version": pushed.version, "rules": pushed.rules}, 201
    )


@router.get("/v1/rulesets/{checkpoint}", summary="Versions of a checkpoint's ruleset")
def list_rulesets(
    checkpoint: str,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    versions, active = rt.rules.versions(checkpoint)
    return json_response(
        {
            "checkpoint": checkpoint,
            "active": active,
            "versions": [
                {
                    "version": v.version,
                    "author": v.author,
                    "note": v.note,
                    "created_at_us": v.created_at_us,
                }
                for v in versions
            ],
        }
    )


@router.get("/v1/rulesets/{checkpoint}/{version}", summary="One ruleset version as YAML")
def pull_ruleset(
    checkpoint: str,
    version: int,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    found = rt.rules.get(checkpoint, version)
    return Response(found.body, media_type="application/yaml")


@router.post(
    "/v1/rulesets/{checkpoint}/{version}/activate",
    summary="Activate a version (an older one rolls back); every API process reloads it",
)
def activate_ruleset(
    checkpoint: str,
    version: int,
    rt: Runtime = Depends(runtime),
    key: ApiKeyRow = Depends(require("admin")),
) -> Response:
    before = rt.rules.activate(checkpoint, version, key.name)
    return json_response({"checkpoint": checkpoint, "active": version, "before": before})


@router.post(
    "/v1/backtests",
    summary="Backtest a ruleset (YAML body) on the event log beside the active one",
    description="Replays the log's events of the ruleset's checkpoint with features as they "
    "were at each event, joins the labels that arrived later, and reports per rule (hits, "
    "precision, recall per label, false-positive rate, GMV denied) and overall, with the "
    "decisions that change. `from` / `to`: RFC 3339 times bounding the events evaluated.",
)
async def post_backtest(
    request: Request,
    since: str | None = Query(None, alias="from"),
    until: str | None = Query(None, alias="to"),
    baseline: bool = True,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("admin")),
) -> Response:
    text = await read_text(request, rt.settings.max_body_bytes)
    bounds = {name: _time(value, name) for name, value in (("from", since), ("to", until))}
    report = await asyncio.to_thread(
        rt.backtests.run,
        text,
        since_us=bounds["from"],
        until_us=bounds["to"],
        against_active=baseline,
    )
    return json_response(report)


def _time(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValidationFailed("invalid time", [Problem(name, "an RFC 3339 time with a zone")])
    return to_us(moment)
