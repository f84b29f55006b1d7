"""Customer lifetime value over the orders that count as purchases: DuckDB computes each
customer's (frequency, recency, T, monetary value) as of ``as_of``, the purchase model (BG/NBD,
or Pareto/NBD) and Gamma-Gamma are fitted by maximum likelihood
(:mod:`riskops.core.analytics.clv`), and each customer gets expected purchases over the horizon,
the probability of being alive and the discounted value.

The summary follows the CLV literature: purchases on the same day are one purchase; frequency
is the number of purchase days after the first; recency the time from the first to the last
purchase day; T from the first purchase day to ``as_of``; monetary value the mean spend of the
repeat purchase days. Time is in days. Abusers are left out as everywhere in analytics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from riskops.core.analytics.clv import (
    ClvFitError,
    FitResult,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gammagamma,
    fit_paretonbd,
)
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError

Model = Literal["bgnbd", "paretonbd"]
MONTH_DAYS = 365.25 / 12


@dataclass(frozen=True)
class ClvResult:
    as_of: datetime
    model: str
    purchases: FitResult[Any]
    spend: FitResult[Any] | None
    """None when Gamma-Gamma could not be fitted (``spend_error`` says why)."""
    spend_error: str | None
    customers: pa.Table
    """user_id, frequency, recency_days, T_days, monetary_usd, p_alive,
    expected_purchases, expected_spend_usd, clv_usd (the last two null without a spend fit)."""
    horizon_days: int
    """The horizon valued: ``horizon_days`` rounded to whole months (at least one)."""
    excluded_users: int


def clv(
    data: AnalyticsData,
    *,
    as_of: datetime | None = None,
    model: Model = "bgnbd",
    horizon_days: int = 365,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
    include_abusers: bool = False,
) -> ClvResult:
    if model not in ("bgnbd", "paretonbd"):
        raise AnalyticsInputError("model", f"{model!r}: use bgnbd or paretonbd")
    if not 1 <= horizon_days <= 3650:
        raise AnalyticsInputError("horizon_days", "between 1 and 3650 days")
    if not 0 <= monthly_discount_rate < 1:
        raise AnalyticsInputError("monthly_discount_rate", "a rate in [0, 1)")
    orders = data.customer_orders(include_abusers=include_abusers)
    row = data.con.execute(f"SELECT count(*), max(ts) FROM ({orders})").fetchone()
    if not row or not row[0]:
        raise AnalyticsInputError("orders", "no purchases to model (after exclusions)")
    when: datetime = row[1] if as_of is None else as_of
    if when.tzinfo is not None:  # stored times are UTC without a zone
        when = when.astimezone(UTC).replace(tzinfo=None)
    summary = data.con.execute(
        f"""WITH days AS (
          SELECT user_id, date_trunc('day', ts) AS day, sum(amount_usd) AS spend
          FROM ({orders}) WHERE ts <= ?::TIMESTAMP GROUP BY ALL),
        firsts AS (SELECT user_id, min(day) AS first_day FROM days GROUP BY user_id)
        SELECT d.user_id,
               count(*) - 1 AS frequency,
               date_diff('day', f.first_day, max(d.day)) AS recency_days,
               date_diff('day', f.first_day, date_trunc('day', ?::TIMESTAMP)) AS t_days,
               coalesce(avg(d.spend) FILTER (WHERE d.day > f.first_day), 0) AS monetary_usd
        FROM days d JOIN firsts f USING (user_id) GROUP BY d.user_id, f.first_day
        ORDER BY d.user_id""",
        [when, when],
    ).fetchnumpy()
    users = summary["user_id"]
    if len(users) == 0:
        raise AnalyticsInputError("as_of", f"no purchases on or before {when:%Y-%m-%d}")
    x = np.asarray(summary["frequency"], dtype=float)
    t_x = np.asarray(summary["recency_days"], dtype=float)
    big_t = np.asarray(summary["t_days"], dtype=float)
    money = np.asarray(summary["monetary_usd"], dtype=float)
    fitter = fit_bgnbd if model == "bgnbd" else fit_paretonbd
    purchases = fitter(x, t_x, big_t)  # raises ClvFitError on an ill-posed fit
    p_alive = purchases.model.probability_alive(x, t_x, big_t)
    # value and expected purchases over the same horizon: whole months (the value is
    # discounted month by month), so a horizon of 45 days is valued as 1.5 → 1 month
    months = max(1, round(horizon_days / MONTH_DAYS))
    horizon = months * MONTH_DAYS
    expected = purchases.model.conditional_expected_purchases(horizon, x, t_x, big_t)
    spend: FitResult[Any] | None = None
    spend_error = None
    value: np.ndarray | None = None
    avg_spend: np.ndarray | None = None
    try:
        spend = fit_gammagamma(x, money)
    except ClvFitError as exc:
        spend_error = str(exc)
    if spend is not None:
        avg_spend = spend.model.conditional_expected_average_profit(x, money)
        value = customer_lifetime_value(
            purchases.model,
            spend.model,
            x,
            t_x,
            big_t,
            money,
            time_unit="days",
            months=months,
            monthly_discount_rate=monthly_discount_rate,
            margin=margin,
        )
    table = pa.table(
        {
            "user_id": pa.array(users, pa.string()),
            "frequency": pa.array(x.astype(np.int64)),
            "recency_days": pa.array(t_x),
            "T_days": pa.array(big_t),
            "monetary_usd": pa.array(np.round(money, 2)),
            "p_alive": pa.array(np.round(p_alive, 4)),
            "expected_purchases": pa.array(np.round(expected, 3)),
            "expected_spend_usd": _maybe(avg_spend, len(x)),
            "clv_usd": _maybe(value, len(x)),
        }
    )
    excluded = (
        0
        if include_abusers
        else int((data.con.execute("SELECT count(*) FROM excluded").fetchone() or (0,))[0])
    )
    return ClvResult(when, model, purchases, spend, spend_error, table, round(horizon), excluded)


def _maybe(values: np.ndarray | None, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.float64())
    return pa.array(np.round(values, 2), pa.float64())
