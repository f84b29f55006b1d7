"""`riskops analytics cohorts | funnel | carts`: retention by acquisition cohort, ordered
funnels with page exits, and abandoned carts with recovery actions, a random holdout, signed
webhooks and the measured uplift."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from riskops.cli import charts
from riskops.cli.analytics import Abusers, Chart, Columns, Db, Fx, Orders, Out, app
from riskops.cli.analytics_io import input_errors, open_data, rows_table, show, write_table
from riskops.cli.common import EXIT_UNAVAILABLE

console = Console()


@app.command("cohorts")
def cohorts_command(
    orders: Path | None = Orders,
    column: list[str] = Columns,
    fx: Path | None = Fx,
    database_url: str | None = Db,
    include_abusers: bool = Abusers,
    period: str = typer.Option("month", help="month or week."),
    cohort_by: str = typer.Option("first_purchase", help="first_purchase or registration."),
    split: str | None = typer.Option(None, help="channel or market."),
    max_offset: int = typer.Option(12, help="Periods after the first to show."),
    value: str = typer.Option("retention", help="retention, customers, revenue_per_member..."),
    out: Path | None = Out,
    chart: Path | None = Chart,
) -> None:
    """Acquisition cohorts and their retention matrix (share of each cohort buying k periods
    later), and first-time vs returning customers per period."""
    from riskops.services.analytics.cohorts import new_vs_returning, pivot, retention_matrix

    with input_errors(), open_data(orders, column, fx, database_url, out) as data:
        cells = retention_matrix(
            data,
            period=period,
            cohort_by=cohort_by,
            split=split,
            max_offset=max_offset,
            include_abusers=include_abusers,
        )
        table = pivot(cells, value)
        mix = [
            asdict(m)
            for m in new_vs_returning(
                data, period=period, split=split, include_abusers=include_abusers
            )
        ]
    offsets = sorted(
        {k for row in table for k in row if k.startswith("k")}, key=lambda k: int(k[1:])
    )
    heads = (["group"] if split else []) + ["cohort", "cohort_size"]
    show(f"{value} by {period} cohort ({cohort_by})", _shares(table, value), heads + offsets)
    show(
        "first-time vs returning",
        mix,
        (["group"] if split else [])
        + ["period", "new_customers", "returning_customers"]
        + ["new_revenue_usd", "returning_revenue_usd", "partial"],
    )
    if out is not None:
        with input_errors():
            write_table(rows_table([asdict(c) for c in cells]), out)
    if chart is not None:
        cells_of = [[r.get(k) for k in offsets] for r in table]
        top = max((v for row in cells_of for v in row if v is not None), default=1.0) or 1.0
        shaded = cells_of if value == "retention" else [
            [None if v is None else v / top for v in row] for row in cells_of
        ]  # fmt: skip
        svg = charts.heatmap(
            value,
            [f"{r.get('group') or ''} {r['cohort']}".strip() for r in table],
            [k.replace("k", "+") for k in offsets],
            shaded,
            texts=None
            if value == "retention"
            else [["" if v is None else f"{v:,.0f}" for v in row] for row in cells_of],
        )
        note = "" if value == "retention" else f"shade: share of the largest cell ({top:,.2f})"
        charts.write_page(chart, f"{value} by cohort / 同期群", svg, note)
        console.print(f"wrote {chart}")


def _shares(table: list[dict[str, Any]], value: str) -> list[dict[str, Any]]:
    """The k-period cells as text: shares as percentages, other values as numbers."""
    fmt = "{:.1%}" if value == "retention" else "{:,.2f}"
    return [
        {k: (fmt.format(v) if k.startswith("k") and v is not None else v) for k, v in r.items()}
        for r in table
    ]


@app.command("funnel")
def funnel_command(
    steps: list[str] = typer.Argument(
        ...,
        help="Steps in order, e.g. page.viewed[page_type=product] cart.item_added "
        "checkout.started order.placed",
    ),
    orders: Path | None = Orders,
    column: list[str] = Columns,
    database_url: str | None = Db,
    include_abusers: bool = Abusers,
    window: str = typer.Option("1d", help="Conversion window from the first step (30m, 1h, 7d)."),
    order: str = typer.Option("strict", help="strict (in order) or any (any order)."),
    unit: str = typer.Option("user", help="user or session."),
    by: str | None = typer.Option(
        None, help="Breakdown: session_channel, user_channel, market or device."
    ),
    exits: bool = typer.Option(True, help="Also page exits and dwell by page type."),
    out: Path | None = Out,
    chart: Path | None = Chart,
) -> None:
    """An ordered funnel: per step entered, conversion from the previous and first step,
    drop-off and time to convert; then where visits end (page exits and dwell)."""
    from riskops.services.analytics.funnels import funnel
    from riskops.services.analytics.pages import page_exits

    with input_errors(), open_data(orders, column, None, database_url, out) as data:
        rows = [
            asdict(r)
            for r in funnel(
                data,
                steps,
                window=window,
                order=order,
                unit=unit,
                breakdown=by,
                include_abusers=include_abusers,
            )
        ]
        pages = (
            [asdict(p) for p in page_exits(data, by="page_type", include_abusers=include_abusers)]
            if exits
            else []
        )
    columns = (["group"] if by else []) + ["step", "name", "entered", "drop_off"]
    columns += ["conversion_from_previous", "conversion_from_first", "median_s_from_previous"]
    show(f"funnel ({order} order, window {window}, per {unit})", rows, columns)
    if pages:
        show("where visits end", pages, ["page", "views", "exits", "exit_rate", "median_dwell_ms"])
    if out is not None:
        with input_errors():
            write_table(rows_table(rows), out)
    if chart is not None:
        labels = [f"{r['group']} · {r['step']}. {r['name']}" if by else f"{r['step']}. {r['name']}"
                  for r in rows]  # fmt: skip
        svg = charts.bars("entered each step", labels, [float(r["entered"]) for r in rows])
        charts.write_page(chart, "Funnel / 转化漏斗", svg, "users (or sessions) entering each step")
        console.print(f"wrote {chart}")


@app.command("carts")
def carts_command(
    database_url: str | None = Db,
    as_of: str | None = typer.Option(
        None, "--as-of", help="Measure as of (ISO 8601; default: now)."
    ),
    idle: str = typer.Option("1h", help="A cart left this long without an order is abandoned."),
    campaign: str | None = typer.Option(None, help="Plan recovery actions under this campaign."),
    kind: str = typer.Option("discount", help="discount or similar_items."),
    discount: float = typer.Option(10.0, help="Discount, percent of the cart."),
    max_discount: float | None = typer.Option(None, help="Cap of the discount, USD."),
    valid_for: str = typer.Option("48h", help="How long the offer lasts."),
    holdout: float = typer.Option(0.10, help="Share of users held out (their carts get nothing)."),
    include_abusers: bool = Abusers,
    actions_out: Path | None = typer.Option(
        None, "--actions-out", help="Record the planned actions (.parquet/.csv/.json)."
    ),
    webhook: str | None = typer.Option(
        None, help="POST treated actions here, signed with RISKOPS_WEBHOOK_SECRET."
    ),
    measure: Path | None = typer.Option(
        None, help="Measure the uplift of recorded actions (a file from --actions-out)."
    ),
    window: str = typer.Option("7d", help="An order this soon after the action is a recovery."),
    out: Path | None = Out,
) -> None:
    """Abandoned carts as of now (or --as-of); with --campaign, recovery actions with a random
    holdout (and --webhook to send them); with --measure, recovery of treated vs held-out carts
    with a confidence interval."""
    from riskops.services.analytics.carts import carts_table, find_abandoned_carts
    from riskops.services.analytics.recovery import (
        RecoveryOptions,
        actions_table,
        measure_recovery,
        plan_recovery,
    )

    with input_errors(), open_data(None, [], None, database_url, out) as data:
        when = _when(as_of)
        idle_td = _window(idle, "idle")
        carts = find_abandoned_carts(data, as_of=when, idle=idle_td)
        console.print("carts: " + ", ".join(f"{n:,} {k}" for k, n in carts.counts.items()))
        rows = [{**asdict(c), "items": len(c.items)} for c in carts.carts]
        show(f"abandoned carts as of {when:%Y-%m-%d %H:%M}", rows,
             ["user_id", "cart_id", "items", "value_usd", "idle_hours", "excluded"])  # fmt: skip
        if out is not None:
            write_table(carts_table(carts), out)
        if campaign is not None:
            options = RecoveryOptions(
                campaign_id=campaign,
                kind=kind,  # type: ignore[arg-type]  # checked by plan_recovery()
                discount_percent=discount,
                max_discount_usd=max_discount,
                valid_for=_window(valid_for, "valid_for"),
                holdout_share=holdout,
                include_abusers=include_abusers,
            )
            plan = plan_recovery(data, carts, options)
            _report_plan(plan, actions_out, webhook, actions_table)
        if measure is not None:
            recorded = _read_actions(measure)
            got = measure_recovery(data, recorded, as_of=when, window=_window(window, "window"))
            show("recovery: treated vs holdout", [asdict(got.uplift)],
                 ["treated_carts", "treated_rate", "holdout_carts", "holdout_rate",
                  "absolute", "ci_low", "ci_high", "relative", "p_value", "note"])  # fmt: skip
            if got.pending:
                console.print(f"{got.pending:,} actions still inside their {window} window")


def _window(text: str, option: str) -> timedelta:
    """A duration option (30m, 1h, 7d); a bad one is an error naming the option."""
    from riskops.services.analytics.funnels import parse_window
    from riskops.services.analytics.inputs import AnalyticsInputError

    try:
        return timedelta(microseconds=parse_window(text))
    except AnalyticsInputError as exc:
        raise AnalyticsInputError(option, exc.reason) from None


def _when(text: str | None) -> datetime:
    from riskops.cli.analytics import _as_of

    value = _as_of(text)
    return datetime.now(UTC) if value is None else value


def _report_plan(plan: Any, actions_out: Path | None, webhook: str | None, to_table: Any) -> None:
    treated = sum(a.group == "treated" for a in plan.actions)
    console.print(
        f"planned {len(plan.actions):,} actions: {treated:,} treated, "
        f"{len(plan.actions) - treated:,} held out; {len(plan.skipped):,} carts skipped"
    )
    for user, cart, reason in plan.skipped[:10]:
        console.print(f"  skipped {user} / {cart}: {reason}")
    if actions_out is not None:
        write_table(to_table(plan), actions_out)
    if webhook is not None:
        from riskops.services.analytics.inputs import AnalyticsInputError
        from riskops.services.webhooks import deliver_actions

        secret = os.environ.get("RISKOPS_WEBHOOK_SECRET")
        if not secret:
            raise AnalyticsInputError("RISKOPS_WEBHOOK_SECRET", "set it to sign the webhooks")
        with console.status(f"sending {treated:,} actions to {webhook}"):
            report = deliver_actions(webhook, secret, plan.actions)
        console.print(f"webhook: {report.delivered:,} delivered, {report.failed:,} failed")
        if report.failed:
            first = next(d for d in report.deliveries if not d.delivered)
            console.print(f"[red]first failure:[/] {escape(str(first.error))}")
            # the plan is recorded (--actions-out); the run did not do all it was asked
            raise typer.Exit(EXIT_UNAVAILABLE if report.delivered == 0 else 1)


def _read_actions(path: Path) -> list[Any]:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from riskops.services.analytics.inputs import AnalyticsInputError
    from riskops.services.analytics.recovery import actions_from_rows

    try:
        if path.suffix.lower() == ".parquet":
            rows = pq.read_table(path).to_pylist()
        elif path.suffix.lower() == ".csv":
            rows = pacsv.read_csv(path).to_pylist()
        else:
            rows = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnalyticsInputError("--measure", f"{path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise AnalyticsInputError("--measure", f"{path} cannot be read: {exc}") from None
    if not isinstance(rows, list):
        raise AnalyticsInputError("--measure", f"{path}: a list of actions")
    return actions_from_rows(rows)
