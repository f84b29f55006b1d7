"""An API server process tunes the garbage collector once its state is rebuilt; an app built
for tests (or embedding) leaves the process' collector alone."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest

from riskops.api.app import SERVER_GC_THRESHOLDS, create_app
from riskops.config import Settings
from tests.integration.testclient import TestClient


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restore_gc")
@pytest.mark.parametrize("serving", [False, True])
def test_serving_tunes_the_collector(
    settings_factory: Callable[..., Settings], serving: bool
) -> None:
    gc.set_threshold(700, 10, 10)
    with TestClient(create_app(settings_factory(), serving=serving)) as client:
        assert client.get("/healthz").status_code == 200
        if serving:
            assert gc.get_threshold() == SERVER_GC_THRESHOLDS
            assert gc.get_freeze_count() > 0
        else:
            assert gc.get_threshold() == (700, 10, 10)
