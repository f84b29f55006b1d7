"""Value × risk on the event log: each customer's value (lifetime value, or spend to date), the
outcomes the active rulesets and policy give their events when replayed point in time
(:meth:`BacktestService.decisions`), and whether labels mark them as bad - combined by
:mod:`riskops.core.analytics.value_risk` into the segment matrix and the insult rate.

Two steps, so a server replays without holding the analytics tables: :func:`replay` (one
backtest per checkpoint, and one pass over the log for who each decided event was about),
then :func:`value_risk` on the analytics data.

Unlike the other analyses, nobody is left out: the risk side must see every customer. The
lifetime-value models are fitted on honest customers only (as ``riskops analytics clv``
does, so fraud does not shape them) and then applied to every customer, abusers included;
who is bad is read from the labels apart."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Literal

import numpy as np
import orjson
import pyarrow as pa

from riskops.core.analytics.clv import ClvFitError, customer_lifetime_value, summarize
from riskops.core.analytics.value_risk import (
    CustomerRow,
    Decision,
    ValueRiskConfig,
    ValueRiskInputError,
    ValueRiskReport,
)
from riskops.core.analytics.value_risk import value_risk as build_report
from riskops.core.decisions.schema import CHECKPOINTS
from riskops.errors import NotFound
from riskops.services.analytics.clv import MONTH_DAYS, clv
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.backtest import BacktestService
from riskops.services.log_scan import scan_log
from riskops.services.rules import RulesService, compile_ruleset
from riskops.stores.base import Store

ValueMeasure = Literal["auto", "clv", "spend"]
StepProgress = Callable[[str, int, int], None]
"""Called with (step, done, total) while replaying; total 0 when not known yet."""
CUSTOMER_CHECKPOINTS = tuple(c for c in CHECKPOINTS if c != "listing")
"""Checkpoints that decide about customers (a listing's decision is about a merchant)."""
_NO_FIT = ("fit", "orders", "as_of")
"""Fields of the analytics errors that say the data cannot be modelled (not a bad option)."""


@dataclass(frozen=True)
class Replayed:
    versions: dict[str, int | None]
    """The active ruleset version replayed at each checkpoint (None: a candidate)."""
    decisions: pa.Table
    """checkpoint, event_id, outcome, user_id, order_id, device: one row per decision."""


@dataclass(frozen=True)
class ValueRiskResult:
    report: ValueRiskReport
    versions: dict[str, int | None]
    decisions: int
    decisions_without_user: int
    value_measure: str
    """``clv_usd`` or ``spend_usd``: what ranks the customers."""
    value_note: str | None
    """Why the value is spend to date when lifetime value was asked for (auto)."""
    as_of: datetime | None

    def customers_table(self) -> pa.Table:
        """One row per customer (the fields of :class:`CustomerRow`), also when empty."""
        rows = self.report.customers
        return pa.table({f.name: [getattr(r, f.name) for r in rows] for f in fields(CustomerRow)})

    def summary(self) -> dict[str, Any]:
        """Everything but the customers, as JSON-ready values."""
        r = self.report
        return {
            "checkpoints": self.versions,
            "decisions": self.decisions,
            "decisions_without_user": self.decisions_without_user,
            "value_measure": self.value_measure,
            "value_note": self.value_note,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "customers_total": len(r.customers),
            "valued_customers": r.valued_customers,
            "high_from": r.high_from,
            "mid_from": r.mid_from,
            "matrix": [asdict(c) for c in r.cells],
            "insult": [asdict(i) for i in r.insult],
        }


def rulesets_to_replay(
    rules: RulesService, checkpoints: Sequence[str], candidates: Sequence[str] = ()
) -> dict[str, tuple[int | None, str]]:
    """``{checkpoint: (active version, YAML)}`` of ``checkpoints`` (``all``: every customer
    checkpoint with an active ruleset; none: ``order``, or only the candidates' when there
    are candidates); a candidate ruleset (YAML) replaces its checkpoint's active one (version
    None)."""
    wanted = list(dict.fromkeys(checkpoints or ([] if candidates else ["order"])))
    everything = "all" in wanted
    if everything:
        wanted = list(CUSTOMER_CHECKPOINTS)
    given = {_customer_checkpoint(compile_ruleset(t).checkpoint): t for t in candidates}
    out: dict[str, tuple[int | None, str]] = {}
    for checkpoint in wanted:
        _customer_checkpoint(checkpoint)
        if checkpoint in given:
            continue
        try:
            found = rules.get(checkpoint)
        except NotFound:
            if everything:
                continue
            raise AnalyticsInputError(
                "checkpoint", f"{checkpoint}: no active ruleset to replay (push and activate one)"
            ) from None
        out[checkpoint] = (found.version, found.body)
    out |= {c: (None, text) for c, text in given.items()}
    if not out:
        raise AnalyticsInputError("checkpoint", "no checkpoint has an active ruleset to replay")
    return out


def _customer_checkpoint(checkpoint: str) -> str:
    if checkpoint not in CUSTOMER_CHECKPOINTS:
        known = f"use {', '.join(CUSTOMER_CHECKPOINTS)} or all"
        if checkpoint in CHECKPOINTS:
            known = "decides about merchants' listings, not customers"
        raise AnalyticsInputError("checkpoint", f"{checkpoint!r}: {known}")
    return checkpoint


def replay(
    store: Store,
    rules: RulesService,
    backtests: BacktestService,
    checkpoints: Sequence[str] = (),
    progress: StepProgress | None = None,
    candidates: Sequence[str] = (),
) -> Replayed:
    """The active ruleset (or a candidate) and the active policy of each checkpoint on every
    event of it in the log, and who each decided event was about."""
    rulesets = rulesets_to_replay(rules, checkpoints, candidates)
    columns: dict[str, list[str]] = {"checkpoint": [], "event_id": [], "outcome": []}
    for checkpoint, (_, text) in rulesets.items():
        step = _step(progress, f"replaying {checkpoint}")
        for decided in backtests.decisions(text, progress=step):  # (event_id, outcome, ...)
            columns["checkpoint"].append(checkpoint)
            columns["event_id"].append(decided[0])
            columns["outcome"].append(decided[1])
    types = {t for c in rulesets for t in CHECKPOINTS[c].event_types}
    owners = _owners(store, types, set(columns["event_id"]), _step(progress, "who was decided"))
    found = [owners.get(e, (None, None, None)) for e in columns["event_id"]]
    table = pa.table(
        {
            **{k: pa.array(v, pa.string()) for k, v in columns.items()},
            **{
                name: pa.array([f[i] for f in found], pa.string())
                for i, name in enumerate(("user_id", "order_id", "device"))
            },
        }
    )
    return Replayed({c: v for c, (v, _) in rulesets.items()}, table)


def _step(progress: StepProgress | None, name: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    progress(name, 0, 0)
    return lambda done, total: progress(name, done, total)


def _owners(
    store: Store, types: set[str], wanted: set[str], progress: Callable[[int, int], None] | None
) -> dict[str, tuple[str | None, str | None, str | None]]:
    """``{event_id: (user, order id, device fingerprint)}`` of the decided events."""
    out = {}
    for row in scan_log(store, progress):
        if row.type in types and row.event_id in wanted:
            body = orjson.loads(row.body)
            order = (body.get("payload") or {}).get("order_id")
            device = (body.get("device") or {}).get("fingerprint")
            out[row.event_id] = (body.get("user_id"), order, device)
    return out


def value_risk(
    data: AnalyticsData,
    replayed: Replayed,
    *,
    config: ValueRiskConfig | None = None,
    value: ValueMeasure = "auto",
    horizon_days: int = 365,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
) -> ValueRiskResult:
    """The value × risk report of the replayed decisions on the log's analytics data."""
    if value not in ("auto", "clv", "spend"):
        raise AnalyticsInputError("value", f"{value!r}: use auto, clv or spend")
    if not 1 <= horizon_days <= 3650:
        raise AnalyticsInputError("horizon_days", "between 1 and 3650 days")
    measure, values, note, as_of = customer_values(
        data, value, horizon_days, monthly_discount_rate, margin
    )
    table = replayed.decisions
    users, outcomes = table.column("user_id").to_pylist(), table.column("outcome").to_pylist()
    decisions = [Decision(u, o) for u, o in zip(users, outcomes, strict=True) if u is not None]
    try:
        report = build_report(values, decisions, _labelled(data, table), config)
    except ValueRiskInputError as exc:
        raise AnalyticsInputError(exc.field, exc.reason) from None
    return ValueRiskResult(
        report=report,
        versions=replayed.versions,
        decisions=table.num_rows,
        decisions_without_user=table.num_rows - len(decisions),
        value_measure=measure,
        value_note=note,
        as_of=as_of,
    )


def config_of(high_share: float, mid_share: float) -> ValueRiskConfig:
    """The report's options, bad ones as an :class:`AnalyticsInputError` naming them."""
    try:
        return ValueRiskConfig(high_share=high_share, mid_share=mid_share)
    except ValueRiskInputError as exc:
        raise AnalyticsInputError(exc.field, exc.reason) from None


def customer_values(
    data: AnalyticsData,
    value: ValueMeasure = "auto",
    horizon_days: int = 365,
    discount: float = 0.01,
    margin: float = 1.0,
) -> tuple[str, dict[str, float], str | None, datetime | None]:
    """Every customer's value, abusers included: ``(measure, user → USD, note, as_of)`` -
    lifetime value (``clv_usd``) or, when it cannot be fitted and ``value`` is ``auto``, spend
    to date (``spend_usd``, with a note saying why)."""
    orders = data.customer_orders(include_abusers=True)
    row = data.con.execute(f"SELECT max(ts) FROM ({orders})").fetchone()
    as_of: datetime | None = row[0] if row else None
    if as_of is None:
        if value == "clv":
            raise AnalyticsInputError("orders", "no purchases to model")
        return "spend_usd", {}, "no purchases yet: every customer is new", None
    if value != "spend":
        try:
            return "clv_usd", _clv_of_all(data, as_of, horizon_days, discount, margin), None, as_of
        except (ClvFitError, AnalyticsInputError) as exc:
            data_problem = not isinstance(exc, AnalyticsInputError) or exc.field in _NO_FIT
            if value == "clv" or not data_problem:
                raise
            note = f"ranked by spend to date: lifetime value cannot be fitted ({exc})"
            return "spend_usd", _spend(data), note, as_of
    return "spend_usd", _spend(data), None, as_of


def _clv_of_all(
    data: AnalyticsData, as_of: datetime, horizon_days: int, discount: float, margin: float
) -> dict[str, float]:
    """Lifetime value of every customer, abusers included, with the models fitted on the
    honest ones: the same numbers as ``clv()`` gives an honest customer."""
    fitted = clv(
        data,
        as_of=as_of,
        horizon_days=horizon_days,
        monthly_discount_rate=discount,
        margin=margin,
    )
    if fitted.spend is None:
        raise AnalyticsInputError("fit", f"no spend model: {fitted.spend_error}")
    lines = data.con.execute(
        f"""SELECT user_id, ts, amount_usd FROM ({data.customer_orders(include_abusers=True)})
        WHERE ts <= ?::TIMESTAMP""",
        [as_of],
    ).fetchnumpy()
    s = summarize(
        lines["user_id"], lines["ts"], lines["amount_usd"], observation_end=as_of, unit="days"
    )
    worth = customer_lifetime_value(
        fitted.purchases.model,
        fitted.spend.model,
        s.frequency,
        s.recency,
        s.T,
        s.monetary_value,
        time_unit="days",
        months=max(1, round(horizon_days / MONTH_DAYS)),
        monthly_discount_rate=discount,
        margin=margin,
    )
    return dict(zip(map(str, s.customer_id.tolist()), np.round(worth, 2).tolist(), strict=True))


def _spend(data: AnalyticsData) -> dict[str, float]:
    """Spend in USD, net of every refund in the data (never below 0), abusers included."""
    end = data.con.execute(
        "SELECT max(ts) FROM (SELECT ts FROM orders UNION ALL SELECT ts FROM order_events)"
    ).fetchone()
    rows = data.con.execute(
        f"""SELECT p.user_id, greatest(0, p.spent - coalesce(r.refunded_usd, 0))
        FROM (SELECT user_id, sum(amount_usd) AS spent
              FROM ({data.customer_orders(include_abusers=True)}) GROUP BY user_id) p
        LEFT JOIN ({data.refunds_by_user(include_abusers=True)}) r USING (user_id)""",
        [end[0] if end else None],
    ).fetchall()
    return {str(u): round(float(v), 2) for u, v in rows}


def _labelled(data: AnalyticsData, decisions: pa.Table) -> set[str]:
    """Users that a label other than ``legit`` names: the user, one of their orders, one of
    their decided events or of the acts analytics keeps with their user (``event_users``), or
    a device they used."""
    data.con.register("_decided", decisions)
    try:
        rows = data.con.execute(
            """WITH bad AS (SELECT DISTINCT entity_type AS t, entity_id AS id FROM labels
                            WHERE label <> 'legit')
            SELECT id FROM bad WHERE t = 'user'
            UNION SELECT o.user_id FROM bad JOIN orders o ON t = 'order' AND id = o.order_id
            UNION SELECT d.user_id FROM bad JOIN _decided d ON t = 'order' AND id = d.order_id
            UNION SELECT e.user_id FROM bad JOIN event_users e ON t = 'event' AND id = e.event_id
            UNION SELECT d.user_id FROM bad JOIN _decided d ON t = 'event' AND id = d.event_id
            UNION SELECT d.user_id FROM bad JOIN _decided d ON t = 'device' AND id = d.device
            UNION SELECT u.user_id FROM bad JOIN touches u
              ON t = 'device' AND u.kind = 'device' AND id = u.value"""
        ).fetchall()
    finally:
        data.con.unregister("_decided")
    return {str(u) for (u,) in rows if u is not None}
