"""Fixtures of the integration suites."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from riskops.api.app import create_app
from riskops.services.file_ingest import FileIngest
from riskops.services.runtime import Runtime, build_runtime
from riskops.simulator import SimConfig, simulate
from tests.factories import NOW
from tests.integration.servers import ServerPool
from tests.integration.testclient import TestClient


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[ServerPool]:
    """riskops servers started by the test; every one is stopped afterwards."""
    servers = ServerPool(tmp_path)
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture
def ops_runtime(settings_factory: Any) -> Runtime:
    """A runtime at the tests' fixed NOW that reloads rulesets and lists on every decision."""
    return build_runtime(settings_factory(rules_reload_s=0), clock=lambda: NOW)


@pytest.fixture
def ops_client(ops_runtime: Runtime) -> Iterator[TestClient]:
    """A client of ``ops_runtime``'s app with a key named "ops" of scopes decide, read, admin."""
    token = ops_runtime.keys.create("ops", ["decide", "read", "admin"]).token
    with TestClient(create_app(runtime=ops_runtime)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture
def market(ops_runtime: Runtime, ops_client: TestClient, tmp_path: Path) -> TestClient:
    """Eight simulated days of 400 users (attacks included) in the log, ending before NOW."""
    start = (NOW - timedelta(days=9)).replace(hour=0, minute=0, second=0, microsecond=0)
    config = SimConfig(seed=3, days=8, users=400, start=start)
    simulate(config, tmp_path / "events.jsonl", tmp_path / "labels.jsonl")
    loader = FileIngest(ops_runtime.ingest, ops_runtime.clock)
    loader.run(tmp_path / "events.jsonl", rejected_path=tmp_path / "rejected.jsonl")
    # the ground truth as label.reported events: analytics leave the labelled abusers out
    loader.run(tmp_path / "labels.events.jsonl", rejected_path=tmp_path / "rejected2.jsonl")
    assert not (tmp_path / "rejected2.jsonl").exists()
    return ops_client
