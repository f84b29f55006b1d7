"""The HTTP path's group commit: concurrent requests share transactions, each is answered
with its own result, and every accepted event reaches the online state once, in seq order -
on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from riskops.config import Settings
from riskops.core.events.envelope import to_us
from riskops.services.group_commit import GroupCommitter
from riskops.services.runtime import Runtime, build_runtime
from tests.factories import NOW, event


@pytest.fixture(params=["sqlite", "postgres"])
def runtime(
    request: pytest.FixtureRequest, settings_factory: Callable[..., Settings]
) -> Iterator[Runtime]:
    if request.param == "postgres":
        settings = settings_factory(database_url=request.getfixturevalue("pg_url"))
    else:
        settings = settings_factory()
    rt = build_runtime(settings, clock=lambda: NOW)
    yield rt
    rt.close()


def _count(rt: Runtime, user: str) -> int:
    return rt.state.window("user", user, "page_viewed", 3600, to_us(NOW)).count


async def _submit_all(rt: Runtime, bodies: list[dict[str, Any]]) -> list[Any]:
    committer = GroupCommitter(rt.ingest, max_batch=16)
    committer.start()
    try:

        async def one(body: dict[str, Any]) -> Any:
            good, bad = rt.ingest.prepare([body])
            assert not bad
            (result,) = await committer.submit(good)
            return result

        return await asyncio.gather(*(one(b) for b in bodies))
    finally:
        await committer.stop()


def test_concurrent_requests_each_get_their_result_and_reach_the_state_once(
    runtime: Runtime,
) -> None:
    bodies = [event("page.viewed", user=f"u-{i % 7}", event_id=f"e-{i}") for i in range(120)]
    bodies += [dict(bodies[3]), dict(bodies[50])]  # redelivered while the first is in flight
    results = asyncio.run(_submit_all(runtime, bodies))
    statuses = [r.status for r in results]
    assert statuses.count("accepted") == 120
    assert statuses.count("duplicate") == 2
    by_id = {r.event_id: r.seq for r in results if r.status == "accepted"}
    assert len(set(by_id.values())) == 120
    assert [r.seq for r in results[-2:]] == [by_id["e-3"], by_id["e-50"]]
    assert runtime.state.cursor() == max(by_id.values())
    assert sum(_count(runtime, f"u-{k}") for k in range(7)) == 120


def test_an_offer_the_state_already_has_changes_nothing(runtime: Runtime) -> None:
    good, _ = runtime.ingest.prepare([event("page.viewed", event_id="x-1")])
    results, appended = runtime.ingest.append(good)
    runtime.projector.catch_up()  # e.g. the poller got there first
    cursor = runtime.state.cursor()
    runtime.ingest.project(appended)  # late: must not apply it a second time
    assert runtime.state.cursor() == cursor == results[0].seq
    assert _count(runtime, "u-1") == 1
