"""What every `riskops analytics` command shares: where the data comes from (the event log,
or an order export with its column roles), writing a result as CSV / Parquet / JSON, and bad
input as a message naming the field plus exit code 2."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import typer
import yaml
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from riskops.cli.common import EXIT_INPUT, err_console, fail_on_error, settings_from

ORDERS_HELP = "An order export (Parquet or CSV) instead of the event log."
COLUMNS_HELP = (
    "Column roles of --orders, as ROLE=COLUMN (repeat), e.g. -c customer_id=CustomerID "
    "-c ordered_at=InvoiceDate -c amount=Total; or a YAML/JSON file of them."
)


OPTION_OF = {
    "as_of": "--as-of",
    "breakdown": "--by",
    "cohort_by": "--cohort-by",
    "discount_percent": "--discount",
    "holdout_share": "--holdout",
    "horizon_days": "--horizon",
    "idle": "--idle",
    "max_discount_usd": "--max-discount",
    "max_offset": "--max-offset",
    "monthly_discount_rate": "--discount",
    "valid_for": "--valid-for",
    "window": "--window",
}
"""Names the analyses give their parameters, as the CLI spells the options."""


def _fail(field: str, reason: str) -> typer.Exit:
    shown = OPTION_OF.get(field, field)
    err_console.print(f"[bold red]error:[/] {escape(shown)}: {escape(reason)}")
    return typer.Exit(EXIT_INPUT)


@contextmanager
def input_errors() -> Iterator[None]:
    """Bad input from any analysis, as one line naming the field (as the CLI option where
    there is one), and exit code 2."""
    from riskops.core.analytics.clv import ClvFitError, ClvInputError
    from riskops.core.analytics.fx import FxError
    from riskops.core.analytics.rfm import RfmConfigError
    from riskops.core.analytics.uplift import UpliftInputError
    from riskops.core.credit import CreditInputError
    from riskops.services.analytics.inputs import AnalyticsInputError

    with fail_on_error():
        try:
            yield
        except (AnalyticsInputError, UpliftInputError, CreditInputError) as exc:
            raise _fail(exc.field, exc.reason) from None
        except (FxError, RfmConfigError, ClvInputError) as exc:
            raise _fail("input", str(exc)) from None
        except ClvFitError as exc:
            raise _fail("fit", str(exc)) from None


def _roles(column: list[str]) -> dict[str, str]:
    if len(column) == 1 and Path(column[0]).suffix.lower() in (".yaml", ".yml", ".json"):
        path = Path(column[0])
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise _fail("--column", f"{path}: {exc}") from None
        if not isinstance(loaded, dict):
            raise _fail("--column", f"{path}: a mapping of role: column")
        return {str(k): str(v) for k, v in loaded.items()}
    roles = {}
    for item in column:
        role, sep, name = item.partition("=")
        if not sep or not role.strip() or not name.strip():
            raise _fail("--column", f"{item!r}: write ROLE=COLUMN")
        roles[role.strip()] = name.strip()
    return roles


def _fx(path: Path | None) -> Mapping[str, object] | None:
    if path is None:
        return None
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _fail("--fx", f"{path}: {exc}") from None
    if not isinstance(loaded, dict):
        raise _fail("--fx", f"{path}: a JSON object of currency: units per USD")
    return loaded


def open_data(
    orders: Path | None,
    column: list[str],
    fx: Path | None,
    database_url: str | None,
    out: Path | None = None,
) -> Any:
    """The analytics data (an ``AnalyticsData``; close it) from --orders or the event log.
    Rejected rows of --orders go to ``<orders stem>.rejected.csv`` beside --out (or in the
    working folder)."""
    from riskops.services.analytics.inputs import OrderColumns

    rates = _fx(fx)
    if orders is not None:
        from riskops.services.analytics.data import AnalyticsData

        columns = OrderColumns.parse(_roles(column))
        rejected = (out.parent if out else Path.cwd()) / f"{orders.stem}.rejected.csv"
        data = AnalyticsData.from_orders_file(orders, columns, fx=rates, rejected_path=rejected)
        _print_load(data.report)
        return data
    if column:
        raise _fail("--column", "column roles go with --orders")
    from riskops.services.runtime import build_runtime

    runtime = build_runtime(settings_from(database_url=database_url), with_state=False)
    try:
        with Progress(
            TextColumn("reading the event log"), BarColumn(), MofNCompleteColumn()
        ) as bar:
            task = bar.add_task("log", total=None)
            data = runtime.analytics.from_log(
                fx=rates, progress=lambda done, total: bar.update(task, completed=done, total=total)
            )
    finally:
        runtime.close()
    _print_load(data.report)
    return data


def _print_load(report: Any) -> None:
    err_console.print(
        f"{report.source}: {report.rows:,} rows, {report.orders:,} orders, "
        f"{report.customers:,} customers; {report.excluded_users:,} blocked or labelled "
        "abusers (left out unless --include-abusers)"
    )
    for reason, n in report.set_aside.items():
        err_console.print(f"  set aside: {n:,} rows ({reason})")
    if report.rejected_path is not None:
        err_console.print(f"  rejected rows, with the reason: {report.rejected_path}")
    if report.unknown_currencies:
        unknown = ", ".join(report.unknown_currencies)
        err_console.print(f"  [yellow]no rate for {unknown}: pass --fx[/]")


def write_table(table: pa.Table, out: Path) -> None:
    """CSV, Parquet or JSON (records) by the file's suffix."""
    suffix = out.suffix.lower()
    if suffix == ".csv":
        pacsv.write_csv(_flat(table), out)
    elif suffix == ".parquet":
        pq.write_table(table, out)
    elif suffix == ".json":
        out.write_text(
            json.dumps(table.to_pylist(), ensure_ascii=False, default=str, indent=1) + "\n",
            encoding="utf-8",
        )
    else:
        raise _fail("--out", f"{out.name}: use .csv, .parquet or .json")
    err_console.print(f"wrote {table.num_rows:,} rows to {out}")


def _flat(table: pa.Table) -> pa.Table:
    """CSV cells hold no lists: list columns become their items joined by "; "."""
    for i, column in enumerate(table.schema):
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            joined = ["; ".join(map(str, v)) if v is not None else None
                      for v in table.column(i).to_pylist()]  # fmt: skip
            table = table.set_column(i, column.name, pa.array(joined, pa.string()))
    return table


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows of one result (dicts of plain values) as an Arrow table, for --out."""
    if not rows:
        return pa.table({})
    cleaned = [
        {
            k: (v if not isinstance(v, list | tuple | dict) else json.dumps(v, ensure_ascii=False))
            for k, v in row.items()
        }
        for row in rows
    ]
    return pa.Table.from_pylist(cleaned)


def show(title: str, rows: list[dict[str, Any]], columns: list[str], limit: int = 40) -> None:
    """A Rich table of ``columns`` of the first ``limit`` rows; shares as percentages."""
    from rich.console import Console
    from rich.table import Table

    title = title if len(rows) <= limit else f"{title} (first {limit} of {len(rows)})"
    table = Table(title=escape(title))
    for column in columns:
        table.add_column(column, justify="left" if column in _TEXT else "right")
    for row in rows[:limit]:
        table.add_row(*(escape(_cell(column, row.get(column))) for column in columns))
    Console().print(table)


_TEXT = {
    "channel",
    "merchant_id",
    "sku",
    "group",
    "term",
    "week",
    "user_id",
    "cohort",
    "referrer_user_id",
    "root_user_id",
    "shared",
    "reason",
    "top_negative_aspects",
    "step",
    "page",
    "segment",
    "source",
    "excluded_reason",
    "kind",
    "action",
}
_SHARES = (
    "conversion",
    "repeat",
    "share",
    "rate",
    "rise",
    "retention",
    "absolute",
    "ci_",
    "p_alive",
)


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if any(part in column for part in _SHARES) and "usd" not in column:
            return f"{value:.1%}"
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)
