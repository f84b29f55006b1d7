"""Ruleset versions, backtests and the risk policy."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from riskops.api.body import read_text
from riskops.api.deps import require, runtime
from riskops.api.errors import json_response
from riskops.core.events.envelope import to_us
from riskops.errors import Problem, ValidationFailed
from riskops.services.runtime import Runtime
from riskops.stores.base import ApiKeyRow

router = APIRouter(tags=["rules"])


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


@router.post(
    "/v1/policy",
    summary="Push a risk policy (YAML) as the next version",
    description="Risk tolerance per phase, the phase of each market, score bands, the "
    "cash-on-delivery switch and fail modes (see docs/rules.md). Validated, stored as a new "
    "immutable version, not yet active; audited.",
)
async def push_policy(
    request: Request,
    note: str = "",
    rt: Runtime = Depends(runtime),
    key: ApiKeyRow = Depends(require("admin")),
) -> Response:
    text = await read_text(request, rt.settings.max_body_bytes)
    return json_response({"version": rt.policy.push(text, key.name, note)}, 201)


@router.post("/v1/policy/{version}/activate", summary="Activate a policy version")
def activate_policy(
    version: int,
    rt: Runtime = Depends(runtime),
    key: ApiKeyRow = Depends(require("admin")),
) -> Response:
    before = rt.policy.activate(version, key.name)
    return json_response({"active": version, "before": before})


@router.get(
    "/v1/policy",
    summary="The active policy and the thresholds it sets per market and checkpoint",
    description="`thresholds`: per market (those under `markets`, those with calibrated "
    "thresholds, and `default` for every other) the thresholds from the bands, which apply at "
    "every checkpoint without calibrated ones. `calibrated`: per checkpoint, then market, the "
    "thresholds that replace them there (set by `riskops calibrate --apply`).",
)
def get_policy(
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    version, policy = rt.policy.active()
    markets = sorted(set(policy.markets) | policy.calibrated_markets() | {"default"})
    return json_response(
        {
            "version": version,
            "tolerance": dict(policy.tolerance),
            "markets": dict(policy.markets),
            "default_phase": policy.default_phase,
            "bands": dict(policy.bands),
            "cod_switch": policy.cod_switch,
            "fail_mode": dict(policy.fail_mode),
            "thresholds": {m: policy.thresholds("" if m == "default" else m) for m in markets},
            "calibrated": {
                checkpoint: {m: policy.thresholds(m, checkpoint) for m in sorted(by_market)}
                for checkpoint, by_market in policy.calibrated.items()
            },
        }
    )
