"""Operations analytics on the event log, continued: cohorts, funnels and page exits, abandoned
carts with recovery actions and their uplift, channels, referrals, reviews, value × risk. Every
answer is JSON rows (the same fields as the CLI's ``--out``); blocked users and labelled abusers
are left out unless ``include_abusers=true`` (except by value × risk, which reads everyone)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from riskops.api.body import decode_json, read_body
from riskops.api.deps import require, runtime
from riskops.api.errors import json_response
from riskops.api.routes.analytics import _as_of, _page, _run
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.runtime import Runtime
from riskops.stores.base import ApiKeyRow

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


def _rows(items: Any) -> list[dict[str, Any]]:
    return [asdict(i) for i in items]


@router.get("/cohorts", summary="Retention by acquisition cohort, and new vs returning buyers")
async def get_cohorts(
    period: str = "month",
    cohort_by: str = "first_purchase",
    split: str | None = None,
    max_offset: int | None = None,
    include_abusers: bool = False,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    from riskops.services.analytics.cohorts import new_vs_returning, retention_matrix

    def analysis(data: AnalyticsData) -> dict[str, Any]:
        cells = retention_matrix(
            data,
            period=period,
            cohort_by=cohort_by,
            split=split,
            max_offset=max_offset,
            include_abusers=include_abusers,
        )
        mix = new_vs_returning(data, period=period, split=split, include_abusers=include_abusers)
        return {"retention": _rows(cells), "new_vs_returning": _rows(mix)}

    return json_response(await _run(rt, analysis))


@router.get(
    "/funnel",
    summary="An ordered funnel and where visits end",
    description="`steps` repeated in order, e.g. `steps=page.viewed[page_type=product]&"
    "steps=cart.item_added&steps=order.placed`; `window` (30m, 1h, 7d), `order` strict or "
    "any, `unit` user or session, `breakdown` session_channel, user_channel, market or device.",
)
async def get_funnel(
    steps: list[str] = Query(default=[]),
    window: str = "1d",
    order: str = "strict",
    unit: str = "user",
    breakdown: str | None = None,
    include_abusers: bool = False,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    from riskops.services.analytics.funnels import funnel
    from riskops.services.analytics.pages import page_exits

    def analysis(data: AnalyticsData) -> dict[str, Any]:
        rows = funnel(
            data,
            steps,
            window=window,
            order=order,
            unit=unit,
            breakdown=breakdown,
            include_abusers=include_abusers,
        )
        pages = page_exits(data, by="page_type", include_abusers=include_abusers)
        return {"steps": _rows(rows), "page_exits": _rows(pages)}

    return json_response(await _run(rt, analysis))


@router.get("/carts", summary="Abandoned carts as of now (or as_of), oldest first, paged")
async def get_carts(
    as_of: str | None = None,
    idle: str = "1h",
    limit: int = 1000,
    offset: int = 0,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    from riskops.services.analytics.carts import find_abandoned_carts

    _page(limit, offset)
    when = _as_of(as_of) or rt.clock()
    idle_td = _window({"idle": idle}, "idle", "1h")

    def analysis(data: AnalyticsData) -> dict[str, Any]:
        carts = find_abandoned_carts(data, as_of=when, idle=idle_td)
        page = carts.carts[offset : offset + limit]
        return {
            "as_of": when.isoformat(),
            "counts": carts.counts,
            "carts_total": len(carts.carts),
            "carts": _rows(page),
        }

    return json_response(await _run(rt, analysis))


@router.post(
    "/carts/recovery",
    summary="Plan recovery actions for abandoned carts, with a random holdout",
    description='Body: `{"campaign_id": "...", "kind": "discount" | "similar_items", '
    '"discount_percent": 10, "max_discount_usd": 20, "valid_for": "48h", "holdout_share": 0.1, '
    '"idle": "1h", "webhook_url": "https://..."}`. Treated actions go to the webhook, signed '
    "with RISKOPS_WEBHOOK_SECRET; keep the returned actions to measure them later.",
)
async def post_recovery(
    request: Request,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("admin")),
) -> Response:
    from riskops.services.analytics.carts import find_abandoned_carts
    from riskops.services.analytics.recovery import RecoveryOptions, action_payload, plan_recovery

    body = await _object(request, rt)
    campaign = body.get("campaign_id")
    if not isinstance(campaign, str) or not campaign:
        raise AnalyticsInputError("campaign_id", "required: the campaign's id")
    max_discount = body.get("max_discount_usd")
    options = RecoveryOptions(
        campaign_id=campaign,
        kind=str(body.get("kind", "discount")),  # type: ignore[arg-type]  # checked when planned
        discount_percent=_number(body, "discount_percent", 10.0),
        max_discount_usd=None if max_discount is None else _number(body, "max_discount_usd", 0),
        valid_for=_window(body, "valid_for", "48h"),
        holdout_share=_number(body, "holdout_share", 0.1),
        include_abusers=_flag(body, "include_abusers"),
    )
    idle = _window(body, "idle", "1h")
    planned_at = body.get("as_of")
    if planned_at is not None and not isinstance(planned_at, str):
        raise AnalyticsInputError("as_of", "an ISO 8601 time")
    webhook = body.get("webhook_url")
    secret = rt.settings.webhook_secret
    if webhook is not None and not secret:
        raise AnalyticsInputError("webhook_url", "set RISKOPS_WEBHOOK_SECRET to sign webhooks")
    when = _as_of(planned_at) or rt.clock()

    def analysis(data: AnalyticsData) -> Any:
        return plan_recovery(data, find_abandoned_carts(data, as_of=when, idle=idle), options)

    plan = await _run(rt, analysis)
    out: dict[str, Any] = {
        "actions": [action_payload(a) for a in plan.actions],
        "skipped": [{"user_id": u, "cart_id": c, "reason": r} for u, c, r in plan.skipped],
    }
    if webhook is not None:
        import asyncio

        from riskops.services.webhooks import deliver_actions

        report = await asyncio.to_thread(deliver_actions, str(webhook), str(secret), plan.actions)
        failures = [d for d in report.deliveries if not d.delivered]
        out["webhook"] = {
            "delivered": report.delivered,
            "failed": report.failed,
            "first_error": failures[0].error if failures else None,
        }
    return json_response(out)


@router.post(
    "/carts/uplift",
    summary="Recovery of treated vs held-out carts, with a confidence interval",
    description='Body: `{"actions": [...as returned by /carts/recovery...], "window": "7d", '
    '"as_of": "…"}` (default: now; actions whose window has not ended are pending).',
)
async def post_uplift(
    request: Request,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    from riskops.services.analytics.recovery import actions_from_rows, measure_recovery

    body = await _object(request, rt)
    rows = body.get("actions")
    if not isinstance(rows, list):
        raise AnalyticsInputError("actions", "a list of actions from /carts/recovery")
    actions = actions_from_rows(rows)
    window = _window(body, "window", "7d")
    measured_at = body.get("as_of")
    if measured_at is not None and not isinstance(measured_at, str):
        raise AnalyticsInputError("as_of", "an ISO 8601 time")
    when = _as_of(measured_at) or rt.clock()

    def analysis(data: AnalyticsData) -> Any:
        return measure_recovery(data, actions, as_of=when, window=window)

    got = await _run(rt, analysis)
    return json_response({"uplift": asdict(got.uplift), "pending": got.pending})


@router.get(
    "/channels",
    summary="Acquisition, conversion, repeat purchases and CLV by channel",
    description="`with_clv=true` fits BG/NBD + Gamma-Gamma and averages each channel's "
    "customers' value (`clv_error` says why when the data cannot be fitted).",
)
async def get_channels(
    market: str | None = None,
    include_abusers: bool = False,
    with_clv: bool = False,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    from riskops.core.analytics.clv import ClvFitError
    from riskops.services.analytics.channels import channel_report
    from riskops.services.analytics.clv import clv

    def analysis(data: AnalyticsData) -> Any:
        values, error = None, None
        if with_clv:
            try:
                fitted = clv(data, include_abusers=include_abusers).customers
                ids, worth = fitted.column("user_id").to_pylist(), fitted.column("clv_usd")
                pairs = zip(ids, worth.to_pylist(), strict=True)
                values = {u: v for u, v in pairs if v is not None}
            except ClvFitError as exc:
                error = str(exc)
        rows = channel_report(data, market=market, clv=values, include_abusers=include_abusers)
        return {"channels": _rows(rows), "clv_error": error}

    return json_response(await _run(rt, analysis))


@router.get("/referrals", summary="Referral chains and self-referrals")
async def get_referrals(
    rt: Runtime = Depends(runtime), _key: ApiKeyRow = Depends(require("read"))
) -> Response:
    from riskops.services.analytics.channels import referrals

    def analysis(data: AnalyticsData) -> Any:
        found = referrals(data)
        return {"referrers": _rows(found.referrers), "referred": _rows(found.referred)}

    return json_response(await _run(rt, analysis))


@router.get("/reviews", summary="Aspect / keyword heat and merchants with rising negatives")
async def get_reviews(
    by: str = "merchant",
    kind: str = "aspect",
    top: int = 10,
    include_abusers: bool = False,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    from riskops.services.analytics.reviews import negative_alerts, review_heat

    def analysis(data: AnalyticsData) -> Any:
        heat = review_heat(data, by=by, kind=kind, top=top, include_abusers=include_abusers)
        alerts = negative_alerts(data, include_abusers=include_abusers, only_flagged=True)
        return {"heat": _rows(heat), "alerts": _rows(alerts)}

    return json_response(await _run(rt, analysis))


@router.get(
    "/value-risk",
    summary="Customers by value × risk, the treatment of each cell, and the insult rate",
    description="Replays the active ruleset of each `checkpoint` (repeat; default `order`; "
    "`all`: every customer checkpoint with one) point in time, joins the decisions to their "
    "customers and ranks the customers by `value` (`auto`: lifetime value, else spend to "
    "date; `clv`; `spend`): the top `high_share` are high value, the next `mid_share` mid. "
    "`matrix`: the 12 cells with customers and the treatment (English and Chinese); "
    "`insult`: per value segment, the share of good customers with a non-allow decision; "
    "`customers` is paged with `limit` / `offset`. Everyone counts, abusers included.",
)
async def get_value_risk(
    checkpoint: list[str] = Query(default=["order"]),
    value: str = "auto",
    high_share: float = 0.2,
    mid_share: float = 0.3,
    horizon_days: int = 365,
    limit: int = 1000,
    offset: int = 0,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    import asyncio

    from riskops.services.analytics.value_risk import config_of, replay, value_risk

    _page(limit, offset)
    config = config_of(high_share, mid_share)
    if value not in ("auto", "clv", "spend"):
        raise AnalyticsInputError("value", f"{value!r}: use auto, clv or spend")
    replayed = await asyncio.to_thread(replay, rt.store, rt.rules, rt.backtests, checkpoint)

    def analysis(data: AnalyticsData) -> dict[str, Any]:
        result = value_risk(
            data,
            replayed,
            config=config,
            value=value,  # type: ignore[arg-type]  # checked above
            horizon_days=horizon_days,
        )
        customers = result.report.customers[offset : offset + limit]
        return result.summary() | {"customers": _rows(customers)}

    return json_response(await _run(rt, analysis))


async def _object(request: Request, rt: Runtime) -> dict[str, Any]:
    body = decode_json(await read_body(request, rt.settings.max_body_bytes))
    if not isinstance(body, dict):
        raise AnalyticsInputError("body", "a JSON object")
    return body


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise AnalyticsInputError(name, "true or false (a JSON boolean)")
    return value


def _window(body: dict[str, Any], name: str, default: str) -> timedelta:
    from riskops.services.analytics.funnels import parse_window

    try:
        return timedelta(microseconds=parse_window(str(body.get(name, default))))
    except AnalyticsInputError as exc:
        raise AnalyticsInputError(name, exc.reason) from None


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AnalyticsInputError(name, "a number")
    return float(value)
