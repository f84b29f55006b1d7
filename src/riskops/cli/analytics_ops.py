"""`riskops analytics channels | referrals | reviews`: acquisition channels (with CLV),
referral chains with self-referral flags, review keyword and aspect heat with the early warning
on merchants' negative reviews."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console

from riskops.cli import charts
from riskops.cli.analytics import Abusers, Chart, Columns, Db, Fx, Orders, Out, app
from riskops.cli.analytics_io import input_errors, open_data, rows_table, show, write_table

console = Console()


@app.command("channels")
def channels_command(
    orders: Path | None = Orders,
    column: list[str] = Columns,
    fx: Path | None = Fx,
    database_url: str | None = Db,
    include_abusers: bool = Abusers,
    market: str | None = typer.Option(None, help="Only users of this market."),
    with_clv: bool = typer.Option(True, help="Fit BG/NBD + Gamma-Gamma for CLV per channel."),
    out: Path | None = Out,
    chart: Path | None = Chart,
) -> None:
    """Acquisition, conversion, repeat purchases and lifetime value by acquisition channel."""
    from riskops.core.analytics.clv import ClvFitError
    from riskops.services.analytics.channels import channel_report
    from riskops.services.analytics.clv import clv

    with input_errors(), open_data(orders, column, fx, database_url, out) as data:
        values = None
        if with_clv:
            try:
                fitted = clv(data, include_abusers=include_abusers)
                ids = fitted.customers.column("user_id").to_pylist()
                worth = fitted.customers.column("clv_usd").to_pylist()
                values = {u: v for u, v in zip(ids, worth, strict=True) if v is not None}
            except ClvFitError as exc:
                console.print(f"[yellow]no CLV per channel:[/] {exc}")
        rows = [
            asdict(r)
            for r in channel_report(
                data, market=market, clv=values, include_abusers=include_abusers
            )
        ]
    columns = ["channel", "users", "buyers", "conversion", "orders_per_user"]
    columns += ["revenue_per_user", "aov_usd", "repeat_30d", "repeat_90d", "clv_mean"]
    show("acquisition channels", rows, columns)
    if out is not None:
        with input_errors():
            write_table(rows_table(rows), out)
    if chart is not None:
        svg = charts.bars(
            "revenue per acquired user (USD)",
            [r["channel"] for r in rows],
            [r["revenue_per_user"] for r in rows],
        )
        charts.write_page(chart, "Channels / 渠道", svg)
        console.print(f"wrote {chart}")


@app.command("referrals")
def referrals_command(
    orders: Path | None = Orders,
    column: list[str] = Columns,
    fx: Path | None = Fx,
    database_url: str | None = Db,
    flagged: bool = typer.Option(False, "--flagged", help="Only self-referrals."),
    out: Path | None = Out,
) -> None:
    """Referral chains: per referrer the accounts it brought, how deep, who bought; and the
    referred accounts that share a device, address or payment instrument with their referrer
    (self-referral)."""
    from riskops.services.analytics.channels import referrals

    with input_errors(), open_data(orders, column, fx, database_url, out) as data:
        found = referrals(data)
    referred = [asdict(r) for r in found.referred if r.self_referral or not flagged]
    show(
        "referrers",
        [asdict(r) for r in found.referrers],
        [
            "referrer_user_id",
            "referred",
            "referred_buyers",
            "self_referrals",
            "downstream",
            "max_depth_below",
            "excluded",
        ],
    )
    show(
        "self-referrals" if flagged else "referred accounts",
        referred,
        ["user_id", "referrer_user_id", "depth", "bought", "self_referral", "shared"],
    )
    if out is not None:
        with input_errors():
            write_table(rows_table(referred), out)


@app.command("reviews")
def reviews_command(
    orders: Path | None = Orders,
    column: list[str] = Columns,
    fx: Path | None = Fx,
    database_url: str | None = Db,
    include_abusers: bool = Abusers,
    by: str = typer.Option("merchant", help="merchant, sku or all."),
    kind: str = typer.Option("aspect", help="aspect (a bilingual lexicon) or keyword."),
    top: int = typer.Option(10, help="Terms per group."),
    out: Path | None = Out,
) -> None:
    """Keyword and aspect heat in positive and negative reviews (English and Chinese), and the
    merchants whose negative reviews are rising."""
    from riskops.services.analytics.reviews import negative_alerts, review_heat

    with input_errors(), open_data(orders, column, fx, database_url, out) as data:
        heat = [
            asdict(r)
            for r in review_heat(
                data,
                by=by,  # checked by review_heat()
                kind=kind,
                top=top,
                include_abusers=include_abusers,
            )
        ]
        alerts = [
            asdict(a)
            for a in negative_alerts(data, include_abusers=include_abusers, only_flagged=True)
        ]
    show(
        f"{kind} heat by {by}",
        heat,
        ["key", "term", "reviews", "positive", "positive_share", "negative", "negative_share"],
    )
    if alerts:
        show(
            "merchants with rising negative reviews",
            alerts,
            [
                "merchant_id",
                "week",
                "reviews",
                "negative_share",
                "baseline_share",
                "p_value",
                "top_negative_aspects",
            ],
        )
    else:
        console.print("no merchant's negative reviews are rising")
    if out is not None:
        with input_errors():
            write_table(rows_table(heat), out)
