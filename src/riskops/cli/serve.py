"""`riskops serve`: the API on the configured database and state backend."""

from __future__ import annotations

import logging

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from riskops.cli.common import fail_on_error, settings_from

console = Console(stderr=True)


def serve_command(
    host: str | None = typer.Option(None, help="Bind address (RISKOPS_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (RISKOPS_PORT, 8600)."),
    workers: int = typer.Option(1, min=1, max=32, help="API processes (each tails the log)."),
    database_url: str | None = typer.Option(None, help="Overrides RISKOPS_DATABASE_URL."),
    state_backend: str | None = typer.Option(None, help="memory | redis"),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from riskops.api.app import create_app
    from riskops.services.runtime import build_runtime

    settings = settings_from(
        host=host, port=port, database_url=database_url, state_backend=state_backend
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    url = f"http://{settings.host}:{settings.port}"
    if workers > 1:
        import os

        for key, value in settings.model_dump(exclude_none=True).items():
            os.environ[f"RISKOPS_{key.upper()}"] = str(value)
        console.print(f"riskops: {workers} workers on {url} (docs at {url}/docs)")
        uvicorn.run(
            "riskops.api.app:create_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level=log_level,
        )
        return
    with fail_on_error():
        runtime = build_runtime(settings)
        with Progress(
            TextColumn("[bold]catching up from the event log:[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
        ) as bar:
            graph_task = bar.add_task("entity graph", total=None)
            runtime.graph.catch_up(
                lambda done, total: bar.update(graph_task, completed=done, total=total)
            )
            task = bar.add_task("online state", total=None)
            runtime.projector.catch_up(
                lambda done, total: bar.update(task, completed=done, total=total)
            )
    console.print(
        f"riskops serving on {url}  ·  API docs {url}/docs  ·  "
        f"database {settings.resolved_database_url().split('@')[-1]}  ·  "
        f"state {settings.state_backend}"
    )
    uvicorn.run(
        create_app(runtime=runtime, serving=True),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
    )
