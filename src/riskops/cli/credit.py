"""`riskops credit users | merchants`: credit scores, tiers, reasons (English and Chinese) and
what each tier allows, from the event log."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from riskops.cli.analytics import AsOf, Db, Out, _as_of
from riskops.cli.analytics_io import input_errors, open_data, write_table

app = typer.Typer(help="User and merchant credit: scores, tiers, reasons, privileges.")
console = Console()


@app.command("users")
def users_command(
    user: list[str] = typer.Option([], "--user", "-u", help="Only these users (repeat)."),
    database_url: str | None = Db,
    as_of: str | None = AsOf,
    top: int = typer.Option(20, help="Rows to show (lowest scores first)."),
    out: Path | None = Out,
) -> None:
    """Each user's credit score (300-850), tier, privileges and the reasons behind them."""
    from riskops.services.credit import user_credit, user_credit_table

    with input_errors(), open_data(None, [], None, database_url, out) as data:
        rows = user_credit(data, as_of=_as_of(as_of), user_ids=user or None)
    ranked = sorted(rows, key=lambda r: (r.score, r.user_id))
    table = Table(title=f"user credit, {len(rows):,} users (lowest first)")
    for head in ("user", "score", "tier", "express refund", "password-free USD", "reasons"):
        table.add_column(
            head, justify="right" if head in ("score", "password-free USD") else "left"
        )
    for r in ranked[:top]:
        reasons = "; ".join(f"{x.en} / {x.zh}" for x in r.reasons[:2]) or "-"
        table.add_row(
            escape(r.user_id),
            str(r.score),
            r.tier,
            "yes" if r.privileges.express_refund else "no",
            f"{r.privileges.password_free_limit_usd:,.0f}",
            escape(reasons),
        )
    console.print(table)
    tiers: dict[str, int] = {}
    for r in rows:
        tiers[r.tier] = tiers.get(r.tier, 0) + 1
    console.print("tiers: " + ", ".join(f"{t} {n:,}" for t, n in sorted(tiers.items())))
    if out is not None:
        with input_errors():
            write_table(user_credit_table(rows), out)


@app.command("merchants")
def merchants_command(
    database_url: str | None = Db,
    as_of: str | None = AsOf,
    top: int = typer.Option(20, help="Rows to show (lowest scores first)."),
    out: Path | None = Out,
) -> None:
    """Each merchant's credit score (0-100), tier, traffic-exposure multiplier and reasons."""
    from riskops.services.credit import merchant_credit_report, merchant_credit_table

    with input_errors(), open_data(None, [], None, database_url, out) as data:
        report = merchant_credit_report(data, as_of=_as_of(as_of))
    ranked = sorted(report.merchants, key=lambda m: (m.score, m.merchant_id))
    table = Table(title=f"merchant credit, {len(ranked):,} merchants (lowest first)")
    for head in ("merchant", "score", "tier", "exposure", "reasons"):
        table.add_column(head, justify="right" if head in ("score", "exposure") else "left")
    for m in ranked[:top]:
        reasons = "; ".join(f"{x.en} / {x.zh}" for x in m.reasons[:2]) or "-"
        table.add_row(
            escape(m.merchant_id), str(m.score), m.tier, f"×{m.exposure:g}", escape(reasons)
        )
    console.print(table)
    for warning in report.warnings:
        console.print(f"[yellow]note:[/] {warning}")
    if out is not None:
        with input_errors():
            write_table(merchant_credit_table(report.merchants), out)


@app.command("refresh")
def refresh_command(
    database_url: str | None = Db,
    as_of: str | None = AsOf,
    privileges: Path | None = typer.Option(
        None, help="YAML of tier → privileges overriding the defaults (docs/credit.md)."
    ),
    author: str = typer.Option(..., "--author", "-a", help="Who makes the change (audited)."),
) -> None:
    """Recompute every user's credit and replace the snapshot that live decisions read: each
    user's tier then sets their privileges (express refund, password-free limit, pay later,
    new-user cap). Run it on a schedule; API processes pick a new snapshot up by themselves."""
    from datetime import UTC, datetime

    from riskops.cli.common import settings_from
    from riskops.services.standing import record_refresh, refresh_standing
    from riskops.stores.factory import open_store

    overrides = _privileges_file(privileges)
    settings = settings_from(database_url=database_url)
    with input_errors(), open_data(None, [], None, database_url, None) as data:
        done = refresh_standing(data, settings.data_dir, as_of=_as_of(as_of), privileges=overrides)
    store = open_store(settings.resolved_database_url())
    try:
        record_refresh(store, datetime.now(UTC), author, done, overrides)
    finally:
        store.close()
    table = Table(title=f"credit snapshot as of {done.as_of or '-'}: {done.users:,} users")
    table.add_column("tier")
    table.add_column("users", justify="right")
    for tier, n in done.tiers.items():
        table.add_row(tier, f"{n:,}")
    console.print(table)
    values = Table(title=f"customer value ({done.value_measure})")
    values.add_column("segment")
    values.add_column("users", justify="right")
    for segment in ("high", "mid", "low", "new"):
        values.add_row(segment, f"{done.value_segments.get(segment, 0):,}")
    console.print(values)
    if done.value_note:
        console.print(escape(done.value_note))
    console.print(f"written to {escape(done.path)}")


def _privileges_file(path: Path | None) -> dict[str, dict[str, object]] | None:
    import yaml

    from riskops.services.analytics.inputs import AnalyticsInputError

    if path is None:
        return None
    with input_errors():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise AnalyticsInputError("--privileges", f"cannot read {path}: {exc}") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise AnalyticsInputError("--privileges", "a mapping of tier → {privilege: value}")
    return data
