"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from riskops import __version__
from riskops.api.errors import install_error_handlers
from riskops.api.fast_path import RiskopsApi
from riskops.api.metrics import STATE_CURSOR, MetricsMiddleware
from riskops.api.routes import (
    analytics,
    analytics_ops,
    audit,
    credit,
    decisions,
    entities,
    events,
    health,
    lists,
    rules,
)
from riskops.config import Settings
from riskops.services.group_commit import GroupCommitter
from riskops.services.runtime import Runtime, build_runtime

log = logging.getLogger("riskops.api")

DESCRIPTION = """
riskops ingests a marketplace's events exactly once, keeps the entity graph and velocity
windows current, and answers what it knows about any user, device, IP, address, phone, email,
payment instrument, merchant, SKU or coupon.

Authenticate with `Authorization: Bearer <key>` (create keys with `riskops keys create`).
Errors are JSON: `{"error": {"code", "message", "problems": [{"field", "reason"}]}}`.
"""


async def _poll_state(rt: Runtime, every_s: float) -> None:
    """Pull events that other writers (other API processes, `riskops ingest`) appended."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(rt.graph.catch_up)
            await asyncio.to_thread(rt.projector.catch_up)
            STATE_CURSOR.set(rt.state.cursor())
        except Exception:  # keep polling; readiness reports the failure
            log.warning("state catch-up failed", exc_info=True)


SERVER_GC_THRESHOLDS = (100_000, 50, 1000)


def tune_gc_for_serving() -> None:
    """Fewer, cheaper garbage collections for a long-running API process. A request allocates
    thousands of short-lived container objects, so CPython's default thresholds (700, 10, 10)
    run a collection every few requests and a full one - over the whole heap, the rebuilt
    state included - every few hundred; under load that cost ~15 % of throughput and tripled
    p99 latency (docs/benchmarks.md). What exists after start-up is frozen out of collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVER_GC_THRESHOLDS)


def create_app(
    settings: Settings | None = None, runtime: Runtime | None = None, *, serving: bool = False
) -> FastAPI:
    """Build the app. Pass a ready ``runtime`` (e.g. already rebuilt by the CLI) or settings.
    ``serving``: this process is an API server (tunes the garbage collector at start-up; tests
    leave it off)."""
    settings = settings or (runtime.settings if runtime else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or build_runtime(settings)
        await asyncio.to_thread(rt.graph.catch_up)
        caught = await asyncio.to_thread(rt.projector.catch_up)
        if caught:
            log.info("online state rebuilt from %d logged events", caught)
        if serving:
            tune_gc_for_serving()
        app.state.runtime = rt
        committer = GroupCommitter(rt.ingest, settings.group_commit_max)
        committer.start()
        app.state.committer = committer
        poller = asyncio.create_task(_poll_state(rt, settings.state_poll_s))
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await committer.stop()
            rt.close()

    app = RiskopsApi(
        title="riskops",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # The hot paths are answered by RiskopsApi itself, before this stack (their FastAPI
    # routes stay, for the OpenAPI schema); every other request is timed here.
    app.add_middleware(MetricsMiddleware)
    app.include_router(health.router)
    app.include_router(events.router)
    app.include_router(entities.router)
    app.include_router(decisions.router)
    app.include_router(rules.router)
    app.include_router(lists.router)
    app.include_router(audit.router)
    app.include_router(analytics.router)
    app.include_router(analytics_ops.router)
    app.include_router(credit.router)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (one app per worker process)."""
    return create_app(Settings(), serving=True)
