"""`riskops calibrate`: per market, the score cut that keeps the loss rate on labelled history
within the market's tolerance while approving as much GMV as possible; the trade-off curve as
tables and a self-contained HTML chart; ``--apply`` writes the thresholds into a new policy
version, as the calibrated thresholds of the model's checkpoint only."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape as markup
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from riskops.cli import charts
from riskops.cli.analytics import Db
from riskops.cli.analytics_io import input_errors
from riskops.cli.common import EXIT_INPUT, err_console, settings_from
from riskops.cli.models import MODEL_HELP, _us

console = Console()
OPTIONS = {"model": "--model", "version": "--version", "since_us": "--since",
           "until_us": "--until", "window": "--since/--until"}  # fmt: skip
"""The service's names for its inputs, as this command spells the options."""
HEADS = (
    "market",
    "phase",
    "tolerance",
    "events",
    "bad",
    "cut",
    "challenge",
    "review",
    "deny",
    "approved",
    "GMV approved",
    "loss rate",
    "bad GMV caught",
    "status",
)
NICE_TOPS = (0.02, 0.04, 0.08, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)
"""Loss-rate axis heights whose quarter ticks are round percentages."""
STATUS = {"met": "met", "no_bad": "no bad labels", "unreachable": "unreachable", "empty": "-"}


def calibrate_command(
    model: str = typer.Option(..., help=MODEL_HELP),
    version: str | None = typer.Option(None, help="A registered version (default: champion)."),
    since: str | None = typer.Option(
        None, help="Events from (ISO 8601, with a zone; default: after the training rows)."
    ),
    until: str | None = typer.Option(None, help="Events before (ISO 8601, with a zone)."),
    chart: Path | None = typer.Option(None, help="Write the trade-off curves as HTML."),
    out: Path | None = typer.Option(None, help="Write the result with every curve as JSON."),
    apply: bool = typer.Option(
        False, "--apply", help="Write the thresholds as a new policy (the model's checkpoint only)."
    ),
    author: str | None = typer.Option(None, "--author", "-a", help="Who applies (audited)."),
    rows: int = typer.Option(13, "--rows", min=3, max=200, help="Curve rows per market."),
    database_url: str | None = Db,
) -> None:
    """Choose each market's review threshold from labelled history: the score below which
    events are approved so that the loss rate (bad GMV / approved GMV) meets the market's
    tolerance, approving as much GMV as possible."""
    _check_options(chart, out, apply, author)
    from riskops.services.models.calibrate import calibrate
    from riskops.services.models.registry import ModelRegistry
    from riskops.services.runtime import build_runtime

    settings = settings_from(database_url=database_url)
    with _option_errors():
        since_us, until_us = _us(since, "--since"), _us(until, "--until")
        runtime = build_runtime(settings, with_state=False)
        try:
            policy_version, policy = runtime.policy.active()
            with _progress() as progress:
                result = calibrate(
                    runtime.store,
                    settings.resolved_secret(),
                    ModelRegistry(Path(settings.data_dir)),
                    policy,
                    model=model,
                    version=version,
                    since_us=since_us,
                    until_us=until_us,
                    progress=progress,
                )
            _report(result, policy_version, rows)
            if out is not None:
                text = json.dumps(result.as_dict(), ensure_ascii=False, indent=1) + "\n"
                _write(out, "--out", lambda: out.write_text(text, encoding="utf-8"))
            if chart is not None:
                _write(chart, "--chart", lambda: _write_chart(chart, result))
            if apply:
                _apply(runtime.policy, result, author or "")
        finally:
            runtime.close()


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar for reading the log, shown from its first report (so an error found
    before the log is read prints alone)."""
    bar = Progress(TextColumn("reading the event log"), BarColumn(), MofNCompleteColumn())
    task = bar.add_task("log", total=None)

    def report(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield report
    finally:
        bar.stop()


def _write(path: Path, option: str, write: Callable[[], object]) -> None:
    try:
        write()
    except OSError as exc:
        err_console.print(f"[bold red]error:[/] {option}: {markup(str(exc))}")
        raise typer.Exit(EXIT_INPUT) from None
    console.print(f"wrote {path}")


def _check_options(chart: Path | None, out: Path | None, apply: bool, author: str | None) -> None:
    problem = None
    if chart is not None and chart.suffix.lower() not in (".html", ".htm"):
        problem = f"--chart: {chart.name}: charts are written as .html"
    elif out is not None and out.suffix.lower() != ".json":
        problem = f"--out: {out.name}: the result is written as .json"
    elif apply and not (author or "").strip():
        problem = "--author: say who applies the thresholds (the policy change is audited)"
    elif author and not apply:
        problem = "--author: goes with --apply"
    if problem:
        err_console.print(f"[bold red]error:[/] {markup(problem)}")
        raise typer.Exit(EXIT_INPUT)


@contextmanager
def _option_errors() -> Iterator[None]:
    """Bad input as one line naming the option, exit code 2."""
    from riskops.services.analytics.inputs import AnalyticsInputError

    with input_errors():
        try:
            yield
        except AnalyticsInputError as exc:
            if exc.field not in OPTIONS:
                raise
            raise AnalyticsInputError(OPTIONS[exc.field], exc.reason) from None


def _when(us: int | None, open_end: str) -> str:
    if us is None:
        return open_end
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _report(result: Any, policy_version: int | None, rows: int) -> None:
    source = "after the model's training rows" if result.window == "after training" else "given"
    policy = f"policy version {policy_version}" if policy_version else "the default policy"
    loss = "bad GMV / approved GMV" if result.by == "gmv" else "bad events / approved events"
    console.print(
        f"{result.model} {result.version} at the {result.checkpoint} checkpoint; bad: "
        f"{', '.join(result.label_kinds)}\nwindow {_when(result.since_us, 'the start')} → "
        f"{_when(result.until_us, 'the end of the log')} ({source}); tolerance from {policy}; "
        f"loss rate = {loss}"
    )
    for warning in result.warnings:
        console.print(f"[yellow]note:[/] {markup(warning)}")
    table = Table(title="thresholds per market (approved: score below the cut)")
    for head in HEADS:
        table.add_column(head, justify="left" if head in ("market", "phase", "status") else "right")
    for m in result.markets:
        r = m.row()
        t = m.thresholds or {}
        table.add_row(
            r["market"] or "-", r["phase"], _pct(r["tolerance"], 1), f"{r['events']:,}",
            f"{r['bad']:,}", _num(r["cut"]), _num(t.get("challenge")), _num(t.get("review")),
            _num(t.get("deny")), _pct(r["approval_rate"], 1), _pct(r["approved_gmv_share"], 1),
            _pct(r["loss_rate"], 2), _pct(r["caught_share"], 1), STATUS[r["status"]],
        )  # fmt: skip
    console.print(table)
    for m in result.markets:
        console.print(f"  {m.market or '-'}: {markup(m.result.note)} / {m.result.note_zh}")
    for m in result.markets:
        if m.result.curve:
            console.print(_curve_table(m, rows))


def _pct(value: float | None, places: int) -> str:
    return "-" if value is None else f"{value:.{places}%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:,.4g}"


def _curve_table(m: Any, rows: int) -> Table:
    curve = m.result.curve
    at = curve.index(m.result.chosen)
    shown = _around(len(curve), at, rows)
    table = Table(title=f"{m.market}: trade-off curve ({len(curve):,} cuts; ▶ the chosen one)")
    for head in ("", "cut", "approved", "GMV approved", "loss rate", "bad GMV caught", "within"):
        table.add_column(head, justify="right")
    previous = -1
    for i in shown:
        if i != previous + 1:
            table.add_row("…", "", "", "", "", "", "")
        p = curve[i]
        table.add_row(
            "▶" if i == at else "",
            _num(p.cut),
            _pct(p.approval_rate, 1),
            _pct(p.approved_gmv_share, 1),
            _pct(p.loss_rate, 2),
            _pct(p.caught_share, 1),
            "yes" if p.meets(m.result.tolerance) else "no",
        )
        previous = i
    return table


def _around(n: int, at: int, rows: int) -> list[int]:
    """Indexes of ``rows`` curve points: the first, the last, and the ones nearest ``at``."""
    if n <= rows:
        return list(range(n))
    picked = {0, n - 1, at}
    step = 1
    while len(picked) < rows:
        for i in (at - step, at + step):
            if 0 <= i < n and len(picked) < rows:
                picked.add(i)
        step += 1
    return sorted(picked)


def _apply(service: Any, result: Any, author: str) -> None:
    """Write the met markets' thresholds as the policy's calibrated ones at the model's
    checkpoint (other checkpoints and markets keep theirs)."""
    thresholds = result.calibrated()
    skipped = [m.market or "-" for m in result.markets if m.thresholds is None]
    if not thresholds:
        err_console.print(
            "nothing applied: no market has labelled bad events and a cut within its tolerance"
        )
        raise typer.Exit(1)
    markets = ", ".join(sorted(thresholds))
    window = f"{_when(result.since_us, 'the start')} to {_when(result.until_us, 'the end')}"
    note = (
        f"calibrated {markets} at the {result.checkpoint} checkpoint with {result.model} "
        f"{result.version} on {window}"
    )
    before, version = service.calibrate(result.checkpoint, thresholds, author, note)
    console.print(
        f"policy: active version {before or 'none (the defaults)'} → {version}; calibrated "
        f"{markets} at the {result.checkpoint} checkpoint (other checkpoints unchanged)"
    )
    if skipped:
        kept = ", ".join(skipped)
        console.print(f"kept the current {result.checkpoint} thresholds of {kept} (status above)")


def _write_chart(path: Path, result: Any) -> None:
    parts = []
    for m in result.markets:
        if not m.result.curve:
            continue
        points = _sample(m.result.curve, m.result.chosen)
        gmv = [(p.cut, p.approved_gmv_share) for p in points]
        loss = [(p.cut, p.loss_rate) for p in points if p.loss_rate is not None]
        top = max([m.result.tolerance * 1.5, *(v for _, v in loss)])
        top = next((n for n in NICE_TOPS if n >= top - 1e-12), 1.0)
        cut = m.result.chosen.cut
        parts.append(
            f"<h2>{escape(m.market)} · {escape(m.phase)} · tolerance "
            f"{m.result.tolerance:.1%}</h2><svg width='780' height='250'>"
            + _panel(gmv, 1.0, "approved GMV share / 自动批准交易额占比", cut, None, 0)
            + _panel(loss, top, "loss rate / 损失率", cut, m.result.tolerance, 390)
            + "</svg>"
        )
    what = "GMV" if result.by == "gmv" else "events"
    note = (
        f"{result.model} {result.version}; x: the cut (events scoring below it are approved); "
        f"loss rate = bad {what} / approved {what}; dashed: the tolerance; the vertical line: "
        "the chosen cut."
    )
    charts.write_page(path, "Calibration to tolerance / 按风险容忍度校准", "".join(parts), note)


def _sample(curve: Sequence[Any], chosen: Any, limit: int = 400) -> list[Any]:
    """At most about ``limit`` points of a long curve, always with the chosen one."""
    if len(curve) <= limit:
        return list(curve)
    step = len(curve) / limit
    picked = {int(i * step) for i in range(limit)} | {len(curve) - 1, curve.index(chosen)}
    return [curve[i] for i in sorted(picked)]


def _panel(
    points: Sequence[tuple[float, float]],
    top: float,
    title: str,
    cut: float,
    tolerance: float | None,
    left: int,
) -> str:
    """One plot: x the cut (0-100), y a share from 0 to ``top``, as steps (a cut's value holds
    from the previous cut, excluded, up to it)."""
    x0, y0, w, h = left + 50, 30, 320, 180

    def xy(x: float, y: float) -> str:
        return f"{x0 + x / 100 * w:.1f},{y0 + h - min(y, top) / (top or 1) * h:.1f}"

    path = []
    for i, (x, y) in enumerate(points):
        if i:
            path.append(xy(points[i - 1][0], y))
        path.append(xy(x, y))
    parts = [
        f"<text x='{x0}' y='16'>{escape(title)}</text>",
        f"<rect x='{x0}' y='{y0}' width='{w}' height='{h}' fill='none' stroke='#bbb'/>",
    ]
    places = 0 if top >= 0.2 else 1
    for k in range(5):
        parts.append(
            f"<text x='{x0 + k * w / 4:.0f}' y='{y0 + h + 16}' text-anchor='middle'>"
            f"{25 * k}</text><text x='{x0 - 6}' y='{y0 + h - k * h / 4 + 4:.0f}' "
            f"text-anchor='end'>{top * k / 4:.{places}%}</text>"
        )
    if tolerance is not None:
        a, b = xy(0, tolerance), xy(100, tolerance)
        parts.append(_line(a, b, "#d83b3b", dash=True))
        parts.append(
            f"<text x='{x0 + 4}' y='{float(a.split(',')[1]) - 4:.1f}' "
            f"fill='#d83b3b'>tolerance {tolerance:.1%}</text>"
        )
    parts.append(_line(xy(cut, 0), xy(cut, top), "#888", dash=False))
    parts.append(f"<text x='{float(xy(cut, top).split(',')[0]) + 4:.1f}' y='{y0 + 14}' "
                 f"fill='#666'>cut {cut:.4g}</text>")  # fmt: skip
    if path:
        parts.append(
            f"<polyline points='{' '.join(path)}' fill='none' stroke='#3b7dd8' stroke-width='2'/>"
        )
    parts.append(f"<text x='{x0 + w / 2:.0f}' y='{y0 + h + 34}' text-anchor='middle'>cut</text>")
    return "".join(parts)


def _line(a: str, b: str, colour: str, *, dash: bool) -> str:
    (x1, y1), (x2, y2) = a.split(","), b.split(",")
    style = " stroke-dasharray='6 4'" if dash else ""
    return f"<line x1='{x1}' y1='{y1}' x2='{x2}' y2='{y2}' stroke='{colour}'{style}/>"
