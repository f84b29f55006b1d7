"""`riskops analytics ...`: segments, lifetime value, cohorts, funnels, carts, channels and
reviews, on the event log (default) or on an order export (--orders)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from riskops.cli import charts
from riskops.cli.analytics_io import (
    COLUMNS_HELP,
    ORDERS_HELP,
    input_errors,
    open_data,
    show,
    write_table,
)
from riskops.cli.analytics_value_risk import value_risk_command

app = typer.Typer(
    help="Operations analytics: RFM, CLV, cohorts, funnels, carts, channels, reviews, value × risk."
)
console = Console()

Orders = typer.Option(None, "--orders", help=ORDERS_HELP)
Columns = typer.Option([], "--column", "-c", help=COLUMNS_HELP)
Fx = typer.Option(None, "--fx", help="JSON of currency: units per US dollar (rates to add up).")
Db = typer.Option(None, "--database-url", help="Overrides RISKOPS_DATABASE_URL.")
Abusers = typer.Option(False, "--include-abusers", help="Keep blocked and labelled abusers.")
Out = typer.Option(None, "--out", "-o", help="Write the result table (.csv, .parquet or .json).")
Chart = typer.Option(None, "--chart", help="Write a chart (.html).")
AsOf = typer.Option(None, "--as-of", help="Measure as of (ISO 8601; default: the last order).")


def _as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        from riskops.services.analytics.inputs import AnalyticsInputError

        raise AnalyticsInputError("--as-of", f"{text!r} is not an ISO 8601 time") from None
    return value.astimezone(UTC) if value.tzinfo else value


@app.command("rfm")
def rfm_command(
    orders: Path | None = Orders,
    column: list[str] = Columns,
    fx: Path | None = Fx,
    database_url: str | None = Db,
    include_abusers: bool = Abusers,
    as_of: str | None = AsOf,
    benefits: Path | None = typer.Option(
        None, "--benefits", help="YAML of segment: benefit package (null for none)."
    ),
    out: Path | None = Out,
    chart: Path | None = Chart,
) -> None:
    """RFM quintile scores and named segments, with each segment's benefit package. The
    per-customer audience (--out) is what a campaign tool imports."""
    import yaml

    from riskops.services.analytics.rfm import rfm

    with input_errors():
        benefit_map = None
        if benefits is not None:
            from riskops.cli.common import read_text_file

            benefit_map = yaml.safe_load(read_text_file(benefits)) or {}
            if not isinstance(benefit_map, dict):
                from riskops.services.analytics.inputs import AnalyticsInputError

                raise AnalyticsInputError("--benefits", "a mapping of segment: package")
        with open_data(orders, column, fx, database_url, out) as data:
            result = rfm(
                data,
                as_of=_as_of(as_of),
                include_abusers=include_abusers,
                benefit_map=benefit_map,
            )
    table = Table(title=f"RFM segments as of {result.as_of:%Y-%m-%d %H:%M}")
    for header in ("segment", "细分", "customers", "share", "recency d", "orders", "spend USD"):
        table.add_column(header, justify="left" if header in ("segment", "细分") else "right")
    table.add_column("benefit")
    for s in result.segments:
        table.add_row(
            s.name_en,
            s.name_zh,
            f"{s.customers:,}",
            f"{s.share:.1%}",
            f"{s.recency_days:,.0f}" if s.customers else "-",
            f"{s.frequency:,.1f}" if s.customers else "-",
            f"{s.monetary_usd:,.0f}" if s.customers else "-",
            s.benefit or "-",
        )
    console.print(table)
    if not include_abusers:
        console.print(f"{result.excluded_users:,} blocked or labelled abusers left out")
    for warning in result.warnings:
        console.print(f"[yellow]note:[/] {warning}")
    if out is not None:
        with input_errors():
            write_table(result.customers, out)
    if chart is not None:
        svg = charts.bars(
            "customers by segment",
            [f"{s.name_en} {s.name_zh}" for s in result.segments],
            [float(s.customers) for s in result.segments],
        )
        charts.write_page(chart, "RFM segments / RFM 客户细分", svg, f"as of {result.as_of}")
        console.print(f"wrote {chart}")


@app.command("clv")
def clv_command(
    orders: Path | None = Orders,
    column: list[str] = Columns,
    fx: Path | None = Fx,
    database_url: str | None = Db,
    include_abusers: bool = Abusers,
    as_of: str | None = AsOf,
    model: str = typer.Option("bgnbd", help="Purchase model: bgnbd or paretonbd."),
    horizon: int = typer.Option(365, help="Days ahead to value."),
    discount: float = typer.Option(0.01, help="Monthly discount rate."),
    margin: float = typer.Option(1.0, help="Profit margin applied to spend."),
    top: int = typer.Option(10, help="Customers to list."),
    out: Path | None = Out,
) -> None:
    """Lifetime value: BG/NBD or Pareto/NBD for purchases, Gamma-Gamma for spend, fitted by
    maximum likelihood; per customer the probability of being alive, expected purchases and
    discounted value over the horizon."""
    from riskops.services.analytics.clv import clv

    with input_errors(), open_data(orders, column, fx, database_url, out) as data:
        result = clv(
            data,
            as_of=_as_of(as_of),
            model=model,  # type: ignore[arg-type]  # checked by clv()
            horizon_days=horizon,
            monthly_discount_rate=discount,
            margin=margin,
            include_abusers=include_abusers,
        )
    fits = Table(title=f"fitted models, {result.customers.num_rows:,} customers")
    for header in ("model", "parameters", "log-likelihood", "customers", "notes"):
        fits.add_column(header)
    for fit in (result.purchases, result.spend):
        if fit is None:
            continue
        params = ", ".join(f"{k}={v:.4g}" for k, v in fit.params.items())
        fits.add_row(
            fit.model_name,
            params,
            f"{fit.log_likelihood:,.1f}",
            f"{fit.n_customers:,}",
            "; ".join(fit.warnings) or "-",
        )
    console.print(fits)
    if result.spend_error:
        console.print(f"[yellow]no spend model:[/] {result.spend_error}")
    ranked = result.customers.sort_by(
        [("clv_usd" if result.spend else "expected_purchases", "descending")]
    )
    names = ["user_id", "frequency", "monetary_usd", "p_alive", "expected_purchases"]
    show(
        f"top {top} customers, next {result.horizon_days} days",
        ranked.slice(0, top).to_pylist(),
        [*names, "clv_usd"] if result.spend else names,
    )
    if out is not None:
        with input_errors():
            write_table(result.customers, out)


app.command("value-risk")(value_risk_command)  # in riskops.cli.analytics_value_risk
