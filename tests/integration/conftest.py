"""Fixtures of the integration suites."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.servers import ServerPool


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[ServerPool]:
    """riskops servers started by the test; every one is stopped afterwards."""
    servers = ServerPool(tmp_path)
    try:
        yield servers
    finally:
        servers.close()
