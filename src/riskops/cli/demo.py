"""`riskops demo`: the whole product in one command on the embedded default - a server, a key,
the starter rulesets, a few days of simulated history, then live traffic with attacks through
the decision API, watched in the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.live import Live

from riskops.cli.common import EXIT_INPUT
from riskops.cli.demo_view import LiveStats, render
from riskops.cli.evaluate import starter_rulesets
from riskops.simulator.evaluation import CHECKPOINT_OF

console = Console()
MARKER = ".riskops-demo"


def demo_command(
    data_dir: Path = typer.Option(Path("demo-data"), help="Where the demo keeps its data."),
    port: int = typer.Option(8600, help="Port of the API."),
    users: int = typer.Option(3000, help="Simulated users."),
    history_days: int = typer.Option(3, help="Days of simulated history loaded first."),
    rate: float = typer.Option(60.0, min=1.0, help="Live events per second."),
    duration: float = typer.Option(0.0, help="Stop after this many seconds (0: until Ctrl-C)."),
    seed: int = typer.Option(7, help="Simulation seed."),
    live: bool = typer.Option(True, "--live/--plain", help="A live view, or plain lines."),
) -> None:
    """Start riskops on the embedded default (SQLite + in-process state), create an API key,
    load the starter rulesets, simulate a few days of marketplace history, then stream live
    traffic with attacks through the decision API and show decisions/s, the outcome mix,
    catches per attack, false positives and the rules that fire. Ctrl-C stops it cleanly;
    running it again starts afresh."""
    import uvicorn

    from riskops.api.app import create_app
    from riskops.config import Settings
    from riskops.services.file_ingest import FileIngest
    from riskops.services.runtime import build_runtime
    from riskops.simulator import SimConfig, days

    marker = data_dir / MARKER
    if data_dir.exists() and any(data_dir.iterdir()) and not marker.exists():
        console.print(f"[red]riskops demo: {data_dir} is not empty and not a demo folder[/]")
        raise typer.Exit(EXIT_INPUT)
    if data_dir.exists():  # a fresh start every time (only ever a folder the demo made)
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    marker.write_text("made by riskops demo; the next run deletes this folder\n", "utf-8")
    settings = Settings(  # embedded, whatever the environment configures
        data_dir=data_dir, port=port, rules_reload_s=1.0, database_url=None, state_backend="memory"
    )
    runtime = build_runtime(settings)
    token = runtime.keys.create("demo", ["admin", "decide", "ingest", "read"]).token
    for checkpoint, text in starter_rulesets().items():
        version = runtime.rules.push(text, "demo", note="starter")
        runtime.rules.activate(checkpoint, version.version, "demo")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    config = SimConfig(
        seed=seed,
        users=users,
        merchants=max(20, users // 50),
        skus=max(400, users // 5),
        days=history_days + 1,
        start=today - timedelta(days=history_days),
    )
    history = data_dir / "history.jsonl"
    labels: list[dict[str, Any]] = []
    live_events: list[dict[str, Any]] = []
    status = console.status(f"simulating {history_days} days of history for {users:,} users")
    with status, history.open("wb") as fh:
        for day, (events, day_labels) in enumerate(days(config)):
            labels += day_labels
            if day < history_days:
                fh.write(b"".join(orjson.dumps(e) + b"\n" for e in events))
            else:
                live_events = _from_now_on(events)
    with console.status("loading the history into the event log"):
        summary = FileIngest(runtime.ingest, runtime.clock).run(
            history, rejected_path=data_dir / "history.rejected.jsonl"
        )
        runtime.graph.catch_up()
        runtime.projector.catch_up()
    url = f"http://127.0.0.1:{port}"
    console.print(
        f"[bold]riskops demo[/] · API {url} · docs {url}/docs · key [cyan]{token}[/]\n"
        f"{summary.accepted:,} history events loaded; starter rules active at every checkpoint; "
        f"streaming {len(live_events):,} live events at {rate:.0f}/s (Ctrl-C stops)"
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime=runtime),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, name="riskops-demo-api", daemon=True)
    thread.start()
    stats = LiveStats(attack_of=_attacks(labels), docs=f"{url}/docs")
    try:
        _wait_ready(url)
        asyncio.run(_stream(url, token, live_events, rate, duration, stats, live))
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    console.print(render(stats))
    console.print(f"data kept in {data_dir} (the next run starts afresh)")


def _from_now_on(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The live day rotated to start at the current time of day (so the traffic matches the
    hour: quiet at night, busy in the evening)."""
    clock = datetime.now(UTC).strftime("%H:%M:%S")
    first = next((i for i, e in enumerate(events) if e["occurred_at"][11:19] >= clock), 0)
    return events[first:] + events[:first]


def _attacks(labels: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {(x["entity_type"], x["entity_id"]): x["attack"] for x in labels}


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("the demo API did not start")


async def _stream(
    url: str,
    token: str,
    events: list[dict[str, Any]],
    rate: float,
    duration: float,
    stats: LiveStats,
    live: bool,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        view = Live(render(stats), console=console, refresh_per_second=2) if live else None
        with view or contextlib.nullcontext():
            last_print = started
            for i, event in enumerate(_forever(events)):
                if duration and time.monotonic() - started >= duration:
                    break
                await _send(client, event, stats)
                target = started + (i + 1) / rate
                await asyncio.sleep(max(0.0, target - time.monotonic()))
                now = time.monotonic()
                if view is not None:
                    view.update(render(stats))
                elif now - last_print >= 2:
                    console.print(stats.line())
                    last_print = now


def _forever(events: list[dict[str, Any]]) -> Any:
    """The live day again and again, each time as new events stamped with the current time."""
    for lap in range(1_000_000):
        for event in events:
            fresh = dict(event)
            if lap:
                fresh["event_id"] = f"{event['event_id']}-r{lap}"
            stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            fresh["occurred_at"] = stamp
            yield fresh


async def _send(client: httpx.AsyncClient, event: dict[str, Any], stats: LiveStats) -> None:
    try:
        await _send_one(client, event, stats)
    except httpx.HTTPError:  # a dropped connection is counted, the stream goes on
        stats.errors += 1


async def _send_one(client: httpx.AsyncClient, event: dict[str, Any], stats: LiveStats) -> None:
    checkpoint = CHECKPOINT_OF.get(event["type"])
    if checkpoint is None:
        response = await client.post("/v1/events", json=event)
        stats.events += response.status_code in (200, 201)
        return
    response = await client.post(f"/v1/decisions/{checkpoint}", json=event)
    if response.status_code != 200:
        stats.errors += 1
        return
    stats.record(checkpoint, event, response.json())
    payload = event.get("payload") or {}
    if checkpoint == "order" and payload.get("payment_method") == "cod":
        switched = await client.post("/v1/decisions/payment_method", json=event)
        if switched.status_code == 200:
            stats.record("payment_method", event, switched.json())
