"""`riskops analytics value-risk`: customers by value (lifetime value, or spend to date) and by
the risk of the decisions the active rules give them, the treatment of each cell, and the
insult rate - how often good customers of each value segment were stopped."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from riskops.cli import charts
from riskops.cli.analytics_io import input_errors, write_table
from riskops.cli.common import err_console, read_text_file, settings_from

if TYPE_CHECKING:
    from riskops.core.analytics.value_risk import ValueRiskConfig
    from riskops.services.analytics.data import AnalyticsData
    from riskops.services.analytics.value_risk import ValueRiskResult
    from riskops.services.runtime import Runtime

console = Console()
_MEASURE = {"clv_usd": "lifetime value", "spend_usd": "spend to date"}


def value_risk_command(
    checkpoint: list[str] = typer.Option(
        [],
        "--checkpoint",
        "-k",
        help="Checkpoint whose active ruleset is replayed (repeat; 'all': every one with an "
        "active ruleset; default: order, or only the --rules checkpoints).",
    ),
    rules: list[Path] = typer.Option(
        [],
        "--rules",
        help="A candidate ruleset (YAML) replayed instead of its checkpoint's active one "
        "(repeat): the insult rate before you activate it.",
    ),
    value: str = typer.Option(
        "auto", "--value", help="auto (lifetime value, else spend to date), clv or spend."
    ),
    high_share: float = typer.Option(0.2, "--high-share", help="Top share that is high value."),
    mid_share: float = typer.Option(0.3, "--mid-share", help="Next share that is mid value."),
    horizon: int = typer.Option(365, "--horizon", help="Days of lifetime value."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Overrides RISKOPS_DATABASE_URL."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the customers (.csv, .parquet or .json)."
    ),
    chart: Path | None = typer.Option(None, "--chart", help="Write the matrix as a chart (.html)."),
) -> None:
    """Value × risk: every customer the replayed decisions touched, by value segment (top 20 %,
    next 30 %, the rest, new) and risk segment (review or deny / challenge / all allowed), the
    treatment of each cell, and per value segment the insult rate on good customers."""
    from riskops.services.analytics.value_risk import replay, value_risk
    from riskops.services.runtime import build_runtime

    with input_errors():
        config = _options(high_share, mid_share, value, horizon, out, chart)
        candidates = [read_text_file(path) for path in rules]
        runtime = build_runtime(settings_from(database_url=database_url), with_state=False)
        try:
            with _Steps() as step:
                replayed = replay(
                    runtime.store, runtime.rules, runtime.backtests, checkpoint, step, candidates
                )
                data = _read(runtime, step)
            with data:
                result = value_risk(
                    data,
                    replayed,
                    config=config,
                    value=value,  # type: ignore[arg-type]  # checked above
                    horizon_days=horizon,
                )
        finally:
            runtime.close()
    _print(result)
    if out is not None:
        with input_errors():
            write_table(result.customers_table(), out)
    if chart is not None:
        _chart(result, chart)
        console.print(f"wrote {chart}")


def _options(
    high_share: float,
    mid_share: float,
    value: str,
    horizon: int,
    out: Path | None,
    chart: Path | None,
) -> ValueRiskConfig:
    """The options checked before the log is read, bad ones named as the CLI spells them."""
    from riskops.services.analytics.inputs import AnalyticsInputError
    from riskops.services.analytics.value_risk import config_of

    try:
        config = config_of(high_share, mid_share)
    except AnalyticsInputError as exc:
        raise AnalyticsInputError(f"--{exc.field.replace('_', '-')}", exc.reason) from None
    if value not in ("auto", "clv", "spend"):
        raise AnalyticsInputError("--value", f"{value!r}: use auto, clv or spend")
    if not 1 <= horizon <= 3650:
        raise AnalyticsInputError("--horizon", "between 1 and 3650 days")
    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".json"):
        raise AnalyticsInputError("--out", f"{out.name}: use .csv, .parquet or .json")
    if chart is not None and chart.suffix.lower() not in (".html", ".htm"):
        raise AnalyticsInputError("--chart", f"{chart.name}: charts are written as .html")
    return config


class _Steps:
    """A progress bar per step of the replay (each backtest, the owners, the analytics)."""

    def __enter__(self) -> _Steps:
        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err_console
        )
        self._tasks: dict[str, TaskID] = {}
        self._bar.__enter__()
        return self

    def __call__(self, name: str, done: int, total: int) -> None:
        if name not in self._tasks:
            self._tasks[name] = self._bar.add_task(name, total=None)
        self._bar.update(self._tasks[name], completed=done, total=total or None)

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)


def _read(runtime: Runtime, step: _Steps) -> AnalyticsData:
    return runtime.analytics.from_log(
        progress=lambda done, total: step("reading the analytics tables", done, total)
    )


def _print(result: ValueRiskResult) -> None:
    replayed = ", ".join(
        f"{c} v{v}" if v is not None else f"{c} (candidate)" for c, v in result.versions.items()
    )
    line = f"replayed {replayed}: {result.decisions:,} decisions about "
    line += f"{len(result.report.customers):,} customers"
    if result.decisions_without_user:
        line += f" ({result.decisions_without_user:,} without a user, left out)"
    console.print(line)
    console.print(_thresholds(result))
    if result.value_note:
        console.print(f"[yellow]note:[/] {escape(result.value_note)}")
    console.print(_matrix(result))
    console.print(_insult(result))


def _thresholds(result: ValueRiskResult) -> str:
    measure = _MEASURE.get(result.value_measure, result.value_measure)
    high, mid = result.report.high_from, result.report.mid_from
    cuts = "nobody valued yet" if high is None else f"high value from {high:,.2f} USD"
    if mid is not None:
        cuts += f", mid from {mid:,.2f} USD"
    return f"value = {measure}; {cuts} ({result.report.valued_customers:,} valued customers)"


def _matrix(result: ValueRiskResult) -> Table:
    from riskops.core.analytics.value_risk import RISK_NAMES, RISK_SEGMENTS, VALUE_NAMES

    title = "value × risk: customers (labelled) and treatment / 价值 × 风险"
    table = Table(title=title, show_lines=True)
    table.add_column("value / 价值", overflow="fold")
    for risk in RISK_SEGMENTS:
        en, zh = RISK_NAMES[risk]
        table.add_column(f"{en} / {zh}", overflow="fold")
    for value, (en, zh) in VALUE_NAMES.items():
        cells = [c for c in result.report.cells if c.value_segment == value]
        table.add_row(
            f"{en}\n{zh}",
            *(
                f"[bold]{c.customers:,}[/] ({c.labelled:,} labelled)\n"
                f"{escape(c.treatment_en)}\n{escape(c.treatment_zh)}"
                for c in cells
            ),
        )
    return table


def _insult(result: ValueRiskResult) -> Table:
    table = Table(
        title="insult rate: good customers stopped, by value segment / 误伤率",
        caption="insulted: good customers with a challenge, review or deny; denied: with a deny; "
        "FP rate, deny rate: shares of the good customers' decisions",
    )
    table.add_column("value / 价值", overflow="fold", min_width=12)
    numbers = ("customers", "good", "insulted", "insult rate", "denied", "FP rate", "deny rate")
    for header in numbers:
        table.add_column(header, justify="right")
    for r in result.report.insult:
        table.add_row(
            f"{r.name_en}\n{r.name_zh}",
            f"{r.customers:,}",
            f"{r.good_customers:,}",
            f"{r.insulted:,}",
            _pct(r.insult_rate),
            f"{r.denied:,}",
            _pct(r.decision_fp_rate),
            _pct(r.decision_deny_rate),
        )
    return table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _chart(result: ValueRiskResult, path: Path) -> None:
    from riskops.core.analytics.value_risk import RISK_NAMES, RISK_SEGMENTS, VALUE_NAMES

    cells = result.report.cells
    rows = [f"{v} {zh[:3]}" for v, (_, zh) in VALUE_NAMES.items()]  # high 高价值, new 新客户
    most = max((c.customers for c in cells), default=0) or 1
    grid = [[c.customers / most for c in cells if c.value_segment == v] for v in VALUE_NAMES]
    texts = [[f"{c.customers:,}" for c in cells if c.value_segment == v] for v in VALUE_NAMES]
    risks = [f"{r} {RISK_NAMES[r][1][0]}" for r in RISK_SEGMENTS]
    matrix = charts.heatmap("customers", rows, risks, grid, texts=texts)
    insult = result.report.insult
    bars = charts.bars(
        "insult rate on good customers (%)",
        [f"{r.name_en} {r.name_zh}" for r in insult],
        [None if r.insult_rate is None else 100 * r.insult_rate for r in insult],
        unit="%",
    )
    note = (
        f"rows: value ({_MEASURE.get(result.value_measure)}); columns: risk of the replayed "
        "decisions; a cell's shade: its customers against the fullest cell"
    )
    body = (
        "<h2>customers by value × risk / 价值 × 风险客户数</h2>"
        f"{matrix}<h2>insult rate on good customers / 好客户误伤率</h2>{bars}"
    )
    charts.write_page(path, "Value × risk / 价值 × 风险", body, note)
