"""Operations analytics on this deployment's event log: RFM segments and audiences, lifetime
value. Blocked users and labelled abusers are left out unless ``include_abusers=true``."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from fastapi import APIRouter, Depends
from starlette.responses import Response

from riskops.api.deps import require, runtime
from riskops.api.errors import json_response
from riskops.core.analytics.clv import ClvFitError, ClvInputError
from riskops.core.analytics.rfm import RfmConfigError
from riskops.core.analytics.uplift import UpliftInputError
from riskops.core.credit import CreditInputError
from riskops.errors import Problem, ValidationFailed
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.runtime import Runtime
from riskops.stores.base import ApiKeyRow

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


def _as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AnalyticsInputError("as_of", f"{text!r} is not an ISO 8601 time") from None


async def _run(rt: Runtime, analysis: Any) -> Any:
    try:
        return await asyncio.to_thread(rt.analytics.run, analysis)
    except (UpliftInputError, CreditInputError) as exc:
        raise ValidationFailed("invalid input", [Problem(exc.field, exc.reason)]) from None
    except (RfmConfigError, ClvInputError) as exc:
        raise ValidationFailed("invalid input", [Problem("input", str(exc))]) from None
    except ClvFitError as exc:
        raise ValidationFailed("the model cannot be fitted", [Problem("fit", str(exc))]) from None


def _rows(table: pa.Table, limit: int, offset: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.slice(offset, limit).to_pylist()
    return rows


def _csv(table: pa.Table) -> Response:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    return Response(sink.getvalue().to_pybytes(), media_type="text/csv")


def _page(limit: int, offset: int) -> None:
    if not 1 <= limit <= 100_000:
        raise AnalyticsInputError("limit", "1 to 100000")
    if offset < 0:
        raise AnalyticsInputError("offset", "0 or more")


@router.get(
    "/rfm",
    summary="RFM segments and the audience of each",
    description="Per segment: customers, share, averages and the benefit package; `customers` "
    "lists scores and segments (paged with `limit` / `offset`; `segment=` narrows it). "
    "`format=csv` returns the audience as CSV.",
)
async def get_rfm(
    as_of: str | None = None,
    include_abusers: bool = False,
    segment: str | None = None,
    format: str = "json",
    limit: int = 1000,
    offset: int = 0,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    from riskops.core.analytics.rfm import SEGMENTS
    from riskops.services.analytics.rfm import RfmResult, rfm

    _page(limit, offset)
    if format not in ("json", "csv"):
        raise AnalyticsInputError("format", "json or csv")
    if segment is not None and segment not in SEGMENTS:
        raise AnalyticsInputError("segment", f"one of {', '.join(SEGMENTS)}")
    when = _as_of(as_of)

    def analysis(data: AnalyticsData) -> RfmResult:
        return rfm(data, as_of=when, include_abusers=include_abusers)

    result: RfmResult = await _run(rt, analysis)
    customers = result.customers
    if segment is not None:
        mask = pc.equal(customers.column("segment"), segment)
        customers = customers.filter(mask)
    if format == "csv":
        return _csv(customers)
    return json_response(
        {
            "as_of": result.as_of.isoformat(),
            "excluded_users": result.excluded_users,
            "warnings": result.warnings,
            "segments": [asdict(s) for s in result.segments],
            "customers_total": customers.num_rows,
            "customers": _rows(customers, limit, offset),
        }
    )


@router.get(
    "/clv",
    summary="Lifetime value per customer",
    description="BG/NBD or Pareto/NBD (`model`) and Gamma-Gamma fitted by maximum likelihood; "
    "per customer P(alive), expected purchases and discounted value over `horizon_days`, "
    "highest value first (paged). A fit that is ill-posed is a 422 naming the reason.",
)
async def get_clv(
    as_of: str | None = None,
    model: str = "bgnbd",
    horizon_days: int = 365,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
    include_abusers: bool = False,
    limit: int = 1000,
    offset: int = 0,
    rt: Runtime = Depends(runtime),
    _key: ApiKeyRow = Depends(require("read")),
) -> Response:
    from riskops.services.analytics.clv import ClvResult, clv

    _page(limit, offset)
    when = _as_of(as_of)

    def analysis(data: AnalyticsData) -> ClvResult:
        return clv(
            data,
            as_of=when,
            model=model,  # type: ignore[arg-type]  # checked by clv()
            horizon_days=horizon_days,
            monthly_discount_rate=monthly_discount_rate,
            margin=margin,
            include_abusers=include_abusers,
        )

    result: ClvResult = await _run(rt, analysis)
    key = "clv_usd" if result.spend is not None else "expected_purchases"
    ranked = result.customers.sort_by([(key, "descending")])
    fits = [f for f in (result.purchases, result.spend) if f is not None]
    return json_response(
        {
            "as_of": result.as_of.isoformat(),
            "horizon_days": result.horizon_days,
            "excluded_users": result.excluded_users,
            "models": [
                {
                    "model": f.model_name,
                    "params": dict(f.params),
                    "log_likelihood": f.log_likelihood,
                    "customers": f.n_customers,
                    "warnings": list(f.warnings),
                }
                for f in fits
            ],
            "spend_error": result.spend_error,
            "customers_total": ranked.num_rows,
            "customers": _rows(ranked, limit, offset),
        }
    )
