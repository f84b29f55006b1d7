"""User and merchant credit on this deployment's event log: score, tier, reasons in English
and Chinese, and what the tier allows (user privileges, merchant traffic exposure)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from riskops.api.body import decode_json
from riskops.api.deps import require, runtime
from riskops.api.errors import json_response
from riskops.api.routes.analytics import _as_of, _run
from riskops.core.credit import MerchantCredit, UserCredit
from riskops.errors import NotFound, Problem, ValidationFailed
from riskops.services.analytics.data import AnalyticsData
from riskops.services.runtime import Runtime
from riskops.stores.base import ApiKeyRow

router = APIRouter(prefix="/v1/credit", tags=["credit"])


def _credit(item: UserCredit | MerchantCredit) -> dict[str, Any]:
    out = asdict(item)
    out["reasons"] = [asdict(r) for r in item.reasons]
    return out


@router.get("/users/{user_id}", summary="A user's credit: score, tier, privileges, reasons")
async def get_user_credit(
    user_id: str,
    as_of: str | None = None,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    from riskops.services.analytics.inputs import AnalyticsInputError
    from riskops.services.credit import user_credit

    when = _as_of(as_of)

    def analysis(data: AnalyticsData) -> list[UserCredit]:
        return user_credit(data, as_of=when, user_ids=[user_id])

    try:
        found = await _run(rt, analysis)
    except AnalyticsInputError as exc:
        if exc.field == "user_ids":
            raise NotFound(f"no user {user_id} in the event log") from None
        raise
    return json_response(_credit(found[0]))


async def _merchant_report(rt: Runtime, as_of: str | None) -> Any:
    from riskops.services.credit import merchant_credit_report

    when = _as_of(as_of)

    def analysis(data: AnalyticsData) -> Any:
        return merchant_credit_report(data, as_of=when)

    return await _run(rt, analysis)


@router.get("/merchants", summary="Every merchant's credit, tier and exposure multiplier")
async def get_merchants_credit(
    as_of: str | None = None,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    report = await _merchant_report(rt, as_of)
    return json_response(
        {
            "as_of": report.as_of.isoformat(),
            "warnings": list(report.warnings),
            "merchants": [_credit(m) for m in report.merchants],
        }
    )


@router.get("/merchants/{merchant_id}", summary="A merchant's credit and exposure multiplier")
async def get_merchant_credit(
    merchant_id: str,
    as_of: str | None = None,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    report = await _merchant_report(rt, as_of)
    for m in report.merchants:
        if m.merchant_id == merchant_id:
            return json_response(_credit(m))
    raise NotFound(f"no merchant {merchant_id} in the event log")


@router.post(
    "/refresh",
    summary="Recompute every user's credit into the snapshot live decisions read",
    description="Tiers then set privileges in decisions (express refund, password-free "
    "limit, pay later, new-user cap). The body may give `privileges` overriding the defaults "
    "per tier. Audited.",
)
async def refresh_credit(
    request: Request,
    as_of: str | None = None,
    rt: Runtime = Depends(runtime),
    key: ApiKeyRow = Depends(require("admin")),
) -> Response:
    from riskops.services.standing import record_refresh, refresh_standing

    when = _as_of(as_of)
    raw = await request.body()
    body = decode_json(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise ValidationFailed("invalid body", [Problem("body", "a JSON object")])
    privileges = body.get("privileges")
    if privileges is not None and not isinstance(privileges, dict):
        raise ValidationFailed("invalid body", [Problem("privileges", "tier → {privilege: value}")])

    def analysis(data: AnalyticsData) -> Any:
        return refresh_standing(data, rt.settings.data_dir, as_of=when, privileges=privileges)

    done = await _run(rt, analysis)
    await asyncio.to_thread(record_refresh, rt.store, rt.clock(), key.name, done, privileges)
    return json_response(asdict(done))
