"""Two `riskops serve` processes on one PostgreSQL log and one Redis state.

Both processes share the database schema, the Redis key prefix and the HMAC key, as two API
replicas behind a load balancer would. Checked here: what one writes the other reads at once;
the same event sent to both at the same instant is stored and counted once; ``kill -9`` of one
process (idle, or in the middle of a stream) loses nothing acknowledged and applies nothing
twice, and resending changes nothing.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa

from tests.factories import event
from tests.integration.servers import (
    Server,
    ServerPool,
    build_units,
    create_key,
    distinct_per_user,
    graph_events,
    make_events,
    post_batch,
    post_one,
    profile,
    recent,
    resend_all,
    riskops_env,
    stream_and_kill,
    user_counts,
    window_count,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

VISIBLE_WITHIN_S = 2.0
"""The writer applies the state before answering, so the other process should see it at
once; this only bounds the poll."""


@pytest.fixture
def pool(tmp_path: Path, shared_env: dict[str, str]) -> Iterator[ServerPool]:
    """Depends on ``shared_env`` so that the servers stop before the schema is dropped and
    the Redis keys are deleted."""
    servers = ServerPool(tmp_path)
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture
def shared_env(tmp_path: Path, pg_url: str, redis_server: str, redis_prefix: str) -> dict[str, str]:
    return riskops_env(
        tmp_path / "data",
        database_url=pg_url,  # carries options=-csearch_path%3D<schema>, passed as is
        state_backend="redis",
        redis_url=redis_server,
        redis_prefix=redis_prefix,
    )


@pytest.fixture
def pair(
    pool: ServerPool, shared_env: dict[str, str], tmp_path: Path
) -> tuple[Server, Server, str]:
    """Processes A and B on the same database, Redis prefix and secret, and an admin token."""
    token = create_key(shared_env, tmp_path)
    a = pool.new("api-a", shared_env)
    b = pool.new("api-b", shared_env)
    a.launch()
    b.launch()
    a.wait_ready()
    b.wait_ready()
    return a, b, token


def pg_seqs(url: str) -> dict[str, int]:
    """event_id -> seq of every row of the events table in the test schema."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT event_id, seq FROM events")).all()
    finally:
        engine.dispose()
    return {str(event_id): int(seq) for event_id, seq in rows}


def pg_event_counts(url: str) -> tuple[int, int, int]:
    """(rows, distinct event_ids, max seq) of the events table in the test schema."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT COUNT(*), COUNT(DISTINCT event_id), MAX(seq) FROM events")
            ).one()
    finally:
        engine.dispose()
    return int(row[0]), int(row[1]), int(row[2] or 0)


def redis_cursor(url: str, prefix: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        raw = client.get(f"{prefix}:cursor")
    finally:
        client.close()
    return 0 if raw is None else int(raw)


def wait_for_count(
    client: httpx.Client, kind: str, entity_id: str, expected: int, window: str = "24h"
) -> tuple[float, int]:
    """(seconds, reads) until the entity's ``events`` count in ``window`` reads ``expected``;
    fails after :data:`VISIBLE_WITHIN_S`."""
    began = time.monotonic()
    reads = 0
    while True:
        reads += 1
        seen = window_count(profile(client, kind, entity_id, windows=window), window)
        elapsed = time.monotonic() - began
        if seen == expected:
            return elapsed, reads
        if elapsed > VISIBLE_WITHIN_S:
            pytest.fail(f"{kind} {entity_id}: count {seen}, expected {expected} after {elapsed}s")
        time.sleep(0.005)


def wait_cursor_at(url: str, prefix: str, seq: int) -> int:
    """The Redis cursor once it reaches ``seq`` (bounded: the poll interval is 0.5 s)."""
    deadline = time.monotonic() + 5.0
    cursor = redis_cursor(url, prefix)
    while cursor < seq and time.monotonic() < deadline:
        time.sleep(0.05)
        cursor = redis_cursor(url, prefix)
    return cursor


def test_what_one_process_writes_the_other_reads_at_once(
    pair: tuple[Server, Server, str],
) -> None:
    a, b, token = pair
    users = ["u-vis-1", "u-vis-2"]
    seen: list[tuple[float, int]] = []  # (seconds, reads) until visible on the other side
    with a.client(token) as ca, b.client(token) as cb:
        clients = {"A": ca, "B": cb}
        totals = dict.fromkeys(users, 0)
        for i in range(12):
            writer, reader = ("A", "B") if i % 2 == 0 else ("B", "A")
            user = users[i % 4 // 2]
            device = f"dev-vis-{i}"  # new every round: unknown to the reader until now
            assert profile(clients[reader], "device", device) is None
            body = event(
                "login.failed",
                event_id=f"vis-{i}",
                user=user,
                device=device,
                at=datetime.now(UTC) - timedelta(seconds=1),
            )
            status, answer = post_one(clients[writer], body)
            assert status == 201, answer
            totals[user] += 1
            seen.append(wait_for_count(clients[reader], "user", user, totals[user]))
            seen.append(wait_for_count(clients[reader], "device", device, 1))
        # a batch written to B is read from A, and the other way round
        for writer, reader, tag in (("B", "A", "vb"), ("A", "B", "va")):
            batch = make_events(tag, 30, users, seed=len(tag))
            results = post_batch(clients[writer], batch)
            assert {r["status"] for r in results} == {"accepted"}
            for user, n in distinct_per_user(batch).items():
                totals[user] += n
            for user in users:
                seen.append(wait_for_count(clients[reader], "user", user, totals[user]))
        assert user_counts(ca, users) == user_counts(cb, users) == totals
    latencies = [elapsed for elapsed, _ in seen]
    print(
        f"\ncross-process visibility over {len(seen)} checks: max {max(latencies) * 1000:.1f}"
        f" ms, median {statistics.median(latencies) * 1000:.1f} ms (one read each: "
        f"{all(reads == 1 for _, reads in seen)})"
    )
    # the writer applied the state (Redis) and the graph (SQL) before it answered: the
    # other process's very first read must already see the event
    assert [reads for _, reads in seen] == [1] * len(seen)


def test_the_same_event_sent_to_both_processes_at_once_is_stored_and_counted_once(
    pair: tuple[Server, Server, str], pg_url: str, redis_server: str, redis_prefix: str
) -> None:
    a, b, token = pair
    user = "u-race"
    rounds = 25
    with a.client(token) as ca, b.client(token) as cb, ThreadPoolExecutor(2) as executor:

        def race(body: Any) -> list[tuple[int, dict[str, Any]]]:
            barrier = threading.Barrier(2)

            def send(client: httpx.Client) -> tuple[int, dict[str, Any]]:
                barrier.wait(timeout=10)
                resp = client.post("/v1/events", json=body)
                return resp.status_code, resp.json()

            futures = [executor.submit(send, ca), executor.submit(send, cb)]
            return [f.result(timeout=60) for f in futures]

        rng = random.Random(9)
        for i in range(rounds):
            at = recent(datetime.now(UTC), rng, within_s=600)
            body = event("coupon.claimed", event_id=f"race-{i}", user=user, at=at)
            (sa_, ja), (sb_, jb) = race(body)
            assert sorted([sa_, sb_]) == [200, 201], (ja, jb)
            assert sorted([ja["duplicate"], jb["duplicate"]]) == [False, True]
            assert ja["seq"] == jb["seq"]

        # whole batches raced: every id accepted by exactly one of the two
        batch = make_events("race-batch", 60, [user, "u-race-2"], seed=5)
        batch.append(batch[0])  # and one id twice inside the batch
        (sa_, ja), (sb_, jb) = race(batch)
        assert (sa_, sb_) == (200, 200), (ja, jb)
        for index in range(len(batch) - 1):
            ra, rb = ja["results"][index], jb["results"][index]
            assert sorted([ra["status"], rb["status"]]) == ["accepted", "duplicate"], (ra, rb)
            assert ra["seq"] == rb["seq"]
        assert ja["results"][-1]["status"] == jb["results"][-1]["status"] == "duplicate"
        assert ja["accepted"] + jb["accepted"] == len(batch) - 1

        expected = dict(distinct_per_user(batch))
        expected[user] += rounds
        assert user_counts(ca, list(expected)) == expected
        assert user_counts(cb, list(expected)) == expected
        assert graph_events(cb, user) == expected[user]
    rows, distinct, max_seq = pg_event_counts(pg_url)
    assert rows == distinct == rounds + len(batch) - 1
    assert wait_cursor_at(redis_server, redis_prefix, max_seq) == max_seq


def test_exactly_once_across_a_kill_9_and_restart(
    pair: tuple[Server, Server, str], pg_url: str, redis_server: str, redis_prefix: str
) -> None:
    a, b, token = pair
    users = ["u-pr-1", "u-pr-2", "u-pr-3"]
    events = make_events("pgre", 45, users, seed=6)
    first: dict[str, int] = {}
    with a.client(token) as ca, b.client(token) as cb:
        for i, body in enumerate(events[:30]):  # one by one, alternating A and B
            status, answer = post_one(ca if i % 2 == 0 else cb, body)
            assert status == 201, answer
            first[body["event_id"]] = answer["seq"]
        expected = distinct_per_user(events[:30])
        assert user_counts(ca, users) == user_counts(cb, users) == expected

    a.kill9()
    with b.client(token) as cb:  # B goes on alone while A is down
        for result in resend_all(cb, events[30:], size=5).values():
            assert result["status"] == "accepted", result
            first[result["event_id"]] = result["seq"]
        expected = distinct_per_user(events)
        assert user_counts(cb, users) == expected
    a.restart()

    with a.client(token) as ca, b.client(token) as cb:
        assert user_counts(ca, users) == expected  # A sees what B wrote while it was down
        for body in events[:10]:
            status, answer = post_one(ca, body)
            assert (status, answer["duplicate"], answer["seq"]) == (
                200,
                True,
                first[body["event_id"]],
            )
        for client in (ca, cb):
            again = resend_all(client, events, size=15)
            assert {i: (r["status"], r["seq"]) for i, r in again.items()} == {
                i: ("duplicate", seq) for i, seq in first.items()
            }
        assert user_counts(ca, users) == user_counts(cb, users) == expected
        assert graph_events(ca, users[0]) == expected[users[0]]
    rows, distinct, max_seq = pg_event_counts(pg_url)
    assert (rows, distinct) == (len(events), len(events))
    assert wait_cursor_at(redis_server, redis_prefix, max_seq) == max_seq


def test_kill_9_mid_stream_on_postgres_and_redis(
    pair: tuple[Server, Server, str], pg_url: str, redis_server: str, redis_prefix: str
) -> None:
    a, b, token = pair
    users = [f"u-pgcrash-{i}" for i in range(8)]
    events = make_events("pgcrash", 700, users, seed=7)
    units = build_units(events, seed=8)

    seen = stream_and_kill([(a, 3), (b, 2)], a, token, units, kill_after=200)
    print(
        f"\npostgres crash: A killed after {seen.kill_after_s:.2f}s with {seen.acked_at_kill} "
        f"events acknowledged, {seen.unacked_in_flight} requests in flight, "
        f"{seen.failed_units} failed, {seen.units_left} units not yet sent, "
        f"{len(seen.acked)} acknowledged in all (B's last answers came after the kill)"
    )
    assert seen.bad_responses == []
    assert seen.acked_at_kill >= 200
    assert seen.units_left > 0, "the stream ended before the kill: not a mid-stream crash"
    assert seen.failed_units >= 1, "no request failed: the kill did not hit a live stream"
    # every acknowledged event is in the log, with the seq it was acknowledged with
    stored = pg_seqs(pg_url)
    assert {i: stored.get(i) for i in seen.acked} == seen.acked
    rows, distinct, _ = pg_event_counts(pg_url)
    assert rows == distinct == len(stored)

    a.restart()
    with a.client(token) as ca, b.client(token) as cb:
        for n, (event_id, seq) in enumerate(list(seen.acked.items())[::5]):  # and over HTTP
            resp = (ca if n % 2 else cb).get(f"/v1/events/{event_id}")
            assert resp.status_code == 200, f"acknowledged {event_id} lost: {resp.text}"
            assert resp.json()["seq"] == seq
        unacked = [e for e in events if e["event_id"] not in seen.acked]
        results = resend_all(ca, unacked, size=100)
        assert {r["status"] for r in results.values()} <= {"accepted", "duplicate"}
        print(
            f"resent {len(unacked)} unacknowledged: "
            f"{sum(r['status'] == 'duplicate' for r in results.values())} had been stored"
        )
        acked_again = resend_all(cb, [e for e in events if e["event_id"] in seen.acked])
        assert {i: (r["status"], r["seq"]) for i, r in acked_again.items()} == {
            i: ("duplicate", seq) for i, seq in seen.acked.items()
        }
        rows, distinct, max_seq = pg_event_counts(pg_url)
        assert (rows, distinct) == (len(events), len(events))
        assert wait_cursor_at(redis_server, redis_prefix, max_seq) == max_seq
        expected = distinct_per_user(events)
        assert user_counts(ca, users) == expected
        assert user_counts(cb, users) == expected
        for user in users[:2]:
            assert graph_events(ca, user) == expected[user]
