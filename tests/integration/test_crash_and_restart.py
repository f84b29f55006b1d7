"""Crash safety and restarts of `riskops serve` on SQLite, as real subprocesses.

* exactly-once across a graceful restart: resending everything changes nothing;
* ``kill -9`` in the middle of a stream of concurrent requests: every acknowledged event is
  in the log exactly once, and resending whatever was not acknowledged completes the log;
* late and out-of-order events land in the right windows, before and after restarts.

The in-process (memory) state is rebuilt from the log at start-up, so every check after a
restart also checks that rebuild. The helpers (servers as subprocesses, a crash stream) are in
``tests/integration/servers.py``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import event, iso
from tests.integration.servers import (
    ServerPool,
    build_units,
    create_key,
    distinct_per_user,
    graph_events,
    make_events,
    post_one,
    profile,
    resend_all,
    riskops_env,
    sqlite_event_counts,
    stream_and_kill,
    user_counts,
    window_count,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def sqlite_env(tmp_path: Path, sqlite_url: str) -> dict[str, str]:
    return riskops_env(tmp_path / "data", database_url=sqlite_url, state_backend="memory")


def test_exactly_once_across_a_graceful_restart(
    pool: ServerPool, sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    token = create_key(sqlite_env, tmp_path)
    server = pool.new("api", sqlite_env)
    server.start()
    users = ["u-once-a", "u-once-b"]
    events = make_events("once", 60, users, seed=1)
    first: dict[str, int] = {}
    with server.client(token) as client:
        for body in events[:30]:  # one by one
            status, answer = post_one(client, body)
            assert status == 201, answer
            assert answer["duplicate"] is False
            first[body["event_id"]] = answer["seq"]
        for result in resend_all(client, events[30:], size=10).values():  # small batches
            assert result["status"] == "accepted", result
            first[result["event_id"]] = result["seq"]
        assert len(set(first.values())) == len(events)
        assert user_counts(client, users) == {"u-once-a": 30, "u-once-b": 30}

    server.terminate()
    server.restart()

    with server.client(token) as client:
        # state rebuilt from the log at start-up, nothing resent yet
        assert user_counts(client, users) == {"u-once-a": 30, "u-once-b": 30}
        for body in events[:20]:
            status, answer = post_one(client, body)
            assert (status, answer["duplicate"], answer["seq"]) == (
                200,
                True,
                first[body["event_id"]],
            ), answer
        again = resend_all(client, events, size=25)
        assert {i: r["status"] for i, r in again.items()} == dict.fromkeys(first, "duplicate")
        assert {i: r["seq"] for i, r in again.items()} == first
        assert user_counts(client, users) == {"u-once-a": 30, "u-once-b": 30}
        assert graph_events(client, "u-once-a") == 30
        assert graph_events(client, "u-once-b") == 30
    rows, distinct, repeated = sqlite_event_counts(sqlite_env["RISKOPS_DATABASE_URL"])
    assert (rows, distinct, repeated) == (60, 60, [])


def test_kill_9_mid_stream_loses_no_acknowledged_event_and_applies_each_once(
    pool: ServerPool, sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    token = create_key(sqlite_env, tmp_path)
    server = pool.new("api", sqlite_env)
    server.start()
    users = [f"u-crash-{i}" for i in range(12)]
    events = make_events("crash", 1600, users, seed=2)
    units = build_units(events, seed=3)

    seen = stream_and_kill([(server, 4)], server, token, units, kill_after=400)
    print(
        f"\nsqlite crash: killed after {seen.kill_after_s:.2f}s with {seen.acked_at_kill} events "
        f"acknowledged, {seen.unacked_in_flight} requests in flight, {seen.failed_units} "
        f"failed, {seen.units_left} units never sent"
    )
    assert seen.bad_responses == []
    assert seen.acked_at_kill >= 400
    assert seen.units_left > 0, "the stream ended before the kill: not a mid-stream crash"
    assert seen.failed_units >= 1, "no request failed: the kill did not hit a live stream"

    # the log as the killed process left it, read directly: each acked id once
    rows, distinct, repeated = sqlite_event_counts(sqlite_env["RISKOPS_DATABASE_URL"])
    assert repeated == []
    assert rows == distinct >= len(seen.acked)

    server.restart()
    with server.client(token) as client:
        for event_id, seq in seen.acked.items():
            resp = client.get(f"/v1/events/{event_id}")
            assert resp.status_code == 200, f"acknowledged {event_id} lost: {resp.text}"
            assert resp.json()["seq"] == seq
        unacked = [e for e in events if e["event_id"] not in seen.acked]
        results = resend_all(client, unacked, size=100)
        assert {r["status"] for r in results.values()} <= {"accepted", "duplicate"}
        stored_before = sum(1 for r in results.values() if r["status"] == "duplicate")
        print(
            f"resent {len(unacked)} unacknowledged: {stored_before} had been stored before "
            "the kill (answer lost), the rest accepted now"
        )
        acked_again = resend_all(client, [e for e in events if e["event_id"] in seen.acked])
        assert {i: r["status"] for i, r in acked_again.items()} == dict.fromkeys(
            seen.acked, "duplicate"
        )
        assert {i: r["seq"] for i, r in acked_again.items()} == seen.acked

        rows, distinct, repeated = sqlite_event_counts(sqlite_env["RISKOPS_DATABASE_URL"])
        assert (rows, distinct, repeated) == (len(events), len(events), [])
        expected = distinct_per_user(events)
        assert user_counts(client, users) == expected
        for user in users[:3]:
            assert graph_events(client, user) == expected[user]

    # and once more after a graceful restart (state rebuilt from the completed log)
    server.terminate()
    server.restart()
    with server.client(token) as client:
        assert user_counts(client, users) == distinct_per_user(events)


# Offsets before ``as_of`` of the late-data test, in microseconds. ``as_of`` is the last
# microsecond of a UTC day, so every standard window is a union of whole buckets and exact:
# an offset of exactly W is outside the window W, one of W - 1 µs inside.
_H = 3_600_000_000
_D = 24 * _H
LATE_OFFSETS_US = (
    0,
    10 * 60_000_000,
    _H - 1,
    _H,
    5 * _H,
    _D - 1,
    _D,
    3 * _D,
    7 * _D - 1,
    7 * _D,
    10 * _D,
    29 * _D,
    30 * _D,
    45 * _D,
    90 * _D - 1,
    90 * _D,
    100 * _D,
)
LATE_WINDOWS = {"1h": _H, "24h": _D, "7d": 7 * _D, "30d": 30 * _D, "90d": 90 * _D}


def _expected_windows(
    sent: Sequence[tuple[int, int]],
) -> dict[str, tuple[int, int]]:
    """(count, dwell sum) per window of the (offset, dwell_ms) pairs sent so far."""
    return {
        name: (
            sum(1 for offset, _ in sent if offset < width),
            sum(dwell for offset, dwell in sent if offset < width),
        )
        for name, width in LATE_WINDOWS.items()
    }


def _observed_windows(
    client: httpx.Client, user: str, as_of: datetime
) -> dict[str, tuple[int, int]]:
    prof = profile(client, "user", user, windows=",".join(LATE_WINDOWS), as_of=iso(as_of))
    assert prof is not None
    out = {}
    for name in LATE_WINDOWS:
        series = prof["counters"].get("page_viewed", {"windows": {}})["windows"].get(name)
        out[name] = (int(series["count"]), round(series.get("sum", 0))) if series else (0, 0)
        assert window_count(prof, name) == out[name][0]  # "events" agrees with page_viewed
    return out


def test_late_and_out_of_order_events_land_in_their_windows_across_restarts(
    pool: ServerPool, sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    token = create_key(sqlite_env, tmp_path)
    server = pool.new("api", sqlite_env)
    server.start()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    as_of = today - timedelta(microseconds=1)  # last µs of yesterday, in the past
    user = "u-late"

    def body(index: int, offset_us: int) -> dict[str, Any]:
        return event(
            "page.viewed",
            event_id=f"late-{index:02d}",
            user=user,
            at=as_of - timedelta(microseconds=offset_us),
            payload={"page": f"/p/{index}", "dwell_ms": 1000 + index},
        )

    pairs = [(offset, 1000 + i) for i, offset in enumerate(LATE_OFFSETS_US)]
    order = list(range(len(pairs)))
    random.Random(4).shuffle(order)
    # the newest first, then the rest out of order, half now and half after a restart
    order.remove(0)
    first_half = [0, *order[: len(order) // 2]]
    second_half = order[len(order) // 2 :]

    with server.client(token) as client:
        for i in first_half:
            status, answer = post_one(client, body(i, LATE_OFFSETS_US[i]))
            assert status == 201, answer
        sent = [pairs[i] for i in first_half]
        assert _observed_windows(client, user, as_of) == _expected_windows(sent)

    server.terminate()
    server.restart()
    with server.client(token) as client:
        assert _observed_windows(client, user, as_of) == _expected_windows(sent)
        results = resend_all(client, [body(i, LATE_OFFSETS_US[i]) for i in second_half], size=3)
        assert {r["status"] for r in results.values()} == {"accepted"}
        sent += [pairs[i] for i in second_half]
        expected = _expected_windows(sent)
        assert expected["90d"][0] == len(pairs) - 2  # offsets 90 d and 100 d are outside
        assert _observed_windows(client, user, as_of) == expected
        prof = profile(client, "user", user)
        assert prof is not None
        assert prof["first_seen"] == iso(as_of - timedelta(microseconds=max(LATE_OFFSETS_US)))
        assert prof["last_seen"] == iso(as_of)
        assert prof["events"] == len(pairs)

    server.kill9()
    server.restart()
    with server.client(token) as client:
        assert _observed_windows(client, user, as_of) == expected
        # an hour later (nothing new came in) the windows slid by an hour; 1h, 24h and 7d
        # are still unions of whole buckets there (30d / 90d use day buckets: not exact)
        later = _observed_windows(client, user, as_of + timedelta(hours=1))
        shifted = _expected_windows([(offset + _H, dwell) for offset, dwell in sent])
        assert later["1h"] == (0, 0)
        assert {w: later[w] for w in ("1h", "24h", "7d")} == {
            w: shifted[w] for w in ("1h", "24h", "7d")
        }
