"""One contract suite for every OnlineState backend (memory, Redis).

Times are built around ``AS_OF``, the last microsecond of a UTC day: ``AS_OF + 1 µs`` is then a
multiple of every bucket resolution, so each standard window is a union of whole buckets and the
answers are exact. Tests of the sliding edge at an arbitrary ``as_of`` assert only what the bucket
granularity promises (see riskops.core.state.windows).
"""

from __future__ import annotations

import math
import os
import random
import uuid
from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskops.core.state.model import StateUpdate, WindowStats
from riskops.core.state.windows import RESOLUTIONS, STANDARD_WINDOWS, resolution_for
from riskops.stores.base import OnlineState
from riskops.stores.memory.online_state import MemoryOnlineState

if TYPE_CHECKING:
    from riskops.stores.redis.online_state import RedisOnlineState

S = 1_000_000
MIN = 60 * S
HOUR = 3600 * S
DAY = 86_400 * S
AS_OF = 20_000 * DAY - 1  # 2024-10-04 23:59:59.999999 UTC
ENTITY = ("user", "u1")
ALL_WINDOWS = (*STANDARD_WINDOWS, 900, 6 * 3600)
REDIS_URL = os.environ.get("RISKOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def state(request: pytest.FixtureRequest) -> Iterator[OnlineState]:
    if request.param == "memory":
        memory = MemoryOnlineState()
        yield memory
        memory.close()
        return
    yield from _redis_state()


@pytest.fixture
def redis_state() -> Iterator[RedisOnlineState]:
    yield from _redis_state()


def _redis_state() -> Iterator[RedisOnlineState]:
    import redis

    from riskops.stores.redis.online_state import RedisOnlineState

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        client.close()
        reason = f"Redis is not reachable at {REDIS_URL} (set RISKOPS_TEST_REDIS_URL): {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    prefix = f"riskops-test:{uuid.uuid4().hex}"
    backend = RedisOnlineState(client, prefix)
    try:
        yield backend
    finally:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        backend.close()
        client.close()


def up(
    t: int,
    metric: str = "orders",
    value: float | None = None,
    distinct: str | None = None,
    entity: tuple[str, str] = ENTITY,
) -> StateUpdate:
    return StateUpdate(entity[0], entity[1], metric, t, value, distinct)


def feed(state: OnlineState, *chunks: Sequence[StateUpdate]) -> None:
    """Apply each chunk as the next step of the cursor."""
    for chunk in chunks:
        seq = state.cursor()
        assert state.apply(chunk, seq, seq + 1)


def count(state: OnlineState, window_s: int, as_of: int, metric: str = "orders") -> int:
    return state.window(*ENTITY, metric, window_s, as_of).count


# --- aggregates per window ------------------------------------------------------------------


@pytest.mark.parametrize("window_s", ALL_WINDOWS)
def test_window_aggregates(state: OnlineState, window_s: int) -> None:
    w = window_s * S
    feed(
        state,
        [
            up(AS_OF, value=5.0, distinct="a"),
            up(AS_OF - w // 2, value=-2.5, distinct="b"),
            up(AS_OF - w + 1, value=10.0, distinct="a"),  # oldest microsecond inside
            up(AS_OF - w, value=100.0, distinct="z"),  # newest microsecond outside
            up(AS_OF + 1, value=1000.0, distinct="y"),  # after as_of
            up(AS_OF - w // 3),  # counts, but carries no value and no distinct
        ],
    )
    expected = WindowStats(4, 12.5, -2.5, 10.0, 2, AS_OF)
    assert state.window(*ENTITY, "orders", window_s, AS_OF) == expected
    assert state.windows(*ENTITY, [window_s], AS_OF) == {"orders": {window_s: expected}}


def test_empty_state(state: OnlineState) -> None:
    assert state.cursor() == 0
    assert state.window(*ENTITY, "orders", 3600, AS_OF) == WindowStats.empty()
    assert state.windows(*ENTITY, STANDARD_WINDOWS, AS_OF) == {}


def test_counts_without_values_have_no_min_max(state: OnlineState) -> None:
    feed(state, [up(AS_OF - MIN), up(AS_OF - 2 * MIN)])
    assert state.window(*ENTITY, "orders", 3600, AS_OF) == WindowStats(
        2, 0.0, None, None, 0, AS_OF - MIN
    )


def test_distinct_is_a_union_across_buckets(state: OnlineState) -> None:
    feed(state, [up(AS_OF - d * DAY, distinct=v) for d, v in enumerate("abcabcaad")])
    assert state.window(*ENTITY, "orders", 30 * 86_400, AS_OF).distinct == 4
    assert state.window(*ENTITY, "orders", 2 * 86_400, AS_OF).distinct == 2


def test_windows_of_one_read_nest(state: OnlineState) -> None:
    times = [AS_OF - k * 37 * S for k in range(0, 200_000, 997)]
    feed(state, [up(t, value=float(i)) for i, t in enumerate(times)])
    got = state.windows(*ENTITY, ALL_WINDOWS, AS_OF)["orders"]
    for w in ALL_WINDOWS:
        inside = [i for i, t in enumerate(times) if AS_OF - w * S < t]
        assert got[w] == WindowStats(
            len(inside), float(sum(inside)), 0.0, float(max(inside)), 0, AS_OF
        ), w


# --- the sliding edge -----------------------------------------------------------------------


@pytest.mark.parametrize("window_s", ALL_WINDOWS)
@pytest.mark.parametrize("t", [AS_OF - 123_456_789_012, AS_OF - 7 * S + 3])
def test_update_leaves_window_within_one_bucket(state: OnlineState, window_s: int, t: int) -> None:
    """At an arbitrary instant, an update counts until ``t + W`` (exclusive) and is gone by
    ``t + W + R - 1 µs`` at the latest, ``R`` being the bucket of the resolution used."""
    feed(state, [up(t)])
    bucket = resolution_for(window_s).bucket_s * S
    assert count(state, window_s, t) == 1
    assert count(state, window_s, t + window_s * S - 1) == 1
    assert count(state, window_s, t + window_s * S + bucket - 1) == 0


@pytest.mark.parametrize("window_s", ALL_WINDOWS)
def test_edge_is_exact_on_bucket_boundaries(state: OnlineState, window_s: int) -> None:
    feed(state, [up(AS_OF - window_s * S, metric="out"), up(AS_OF - window_s * S + 1)])
    got = state.windows(*ENTITY, [window_s], AS_OF)
    assert got["orders"][window_s].count == 1
    assert got["out"][window_s].count == 0


def test_last_seen_never_after_as_of(state: OnlineState) -> None:
    as_of = AS_OF - 2 * S  # mid-bucket at every resolution
    feed(state, [up(as_of - 10 * S), up(as_of + S)])
    stats = state.window(*ENTITY, "orders", 60, as_of)
    assert stats.last_seen_us is not None
    assert as_of - 10 * S <= stats.last_seen_us <= as_of


# --- late, out-of-order and expired updates ------------------------------------------------


def test_out_of_order_and_late_updates_land_in_their_buckets(state: OnlineState) -> None:
    feed(
        state,
        [up(AS_OF - 30 * S, value=1.0), up(AS_OF - 2 * MIN, value=2.0)],
        [up(AS_OF - 10 * MIN, value=4.0), up(AS_OF - 40 * S, value=8.0)],  # late
        [up(AS_OF - 20 * HOUR, value=16.0)],  # late by almost a day
    )
    got = state.windows(*ENTITY, [60, 300, 3600, 86_400], AS_OF)["orders"]
    assert got[60] == WindowStats(2, 9.0, 1.0, 8.0, 0, AS_OF - 30 * S)
    assert got[300] == WindowStats(3, 11.0, 1.0, 8.0, 0, AS_OF - 30 * S)
    assert got[3600] == WindowStats(4, 15.0, 1.0, 8.0, 0, AS_OF - 30 * S)
    assert got[86_400] == WindowStats(5, 31.0, 1.0, 16.0, 0, AS_OF - 30 * S)
    # Seen from the past, each late update is in its own time.
    assert state.window(*ENTITY, "orders", 60, AS_OF - 10 * MIN).last_seen_us == AS_OF - 10 * MIN


@pytest.mark.parametrize("late_first", [False, True], ids=["newest-first", "late-first"])
def test_retention_is_per_resolution_and_order_free(state: OnlineState, late_first: bool) -> None:
    """20 min behind the series' newest update is beyond the 5 s buckets (16 min) but within
    the 60 s ones; 92 days behind is beyond every resolution."""
    late, ancient, newest = up(AS_OF - 20 * MIN), up(AS_OF - 92 * DAY), up(AS_OF)
    chunks = [[late, ancient], [newest]] if late_first else [[newest], [late, ancient]]
    feed(state, *chunks)
    seen_from = AS_OF - 20 * MIN + 30 * S
    assert count(state, 60, seen_from) == 0
    assert count(state, 3600, seen_from) == 1
    assert count(state, 3600, AS_OF) == 2
    for w in STANDARD_WINDOWS:
        assert count(state, w, AS_OF - 92 * DAY) == 0
    assert count(state, 90 * 86_400, AS_OF) == 2


# --- the cursor: compare-and-set, exactly once ---------------------------------------------


def test_apply_moves_cursor(state: OnlineState) -> None:
    assert state.apply([up(AS_OF)], 0, 7)
    assert state.cursor() == 7
    assert state.apply([], 7, 7)
    assert state.apply([up(AS_OF)], 7, 12)
    assert state.cursor() == 12
    assert count(state, 60, AS_OF) == 2


def test_apply_with_wrong_from_seq_changes_nothing(state: OnlineState) -> None:
    feed(state, [up(AS_OF)])
    assert not state.apply([up(AS_OF), up(AS_OF, metric="other")], 0, 5)
    assert not state.apply([up(AS_OF)], 2, 5)
    assert state.cursor() == 1
    assert state.windows(*ENTITY, [60], AS_OF) == {
        "orders": {60: WindowStats(1, 0.0, None, None, 0, AS_OF)}
    }


def test_same_chunk_twice_applies_once(state: OnlineState) -> None:
    chunk = [up(AS_OF, value=3.0, distinct="a")]
    assert state.apply(chunk, 0, 1)
    assert not state.apply(chunk, 0, 1)
    assert state.window(*ENTITY, "orders", 60, AS_OF) == WindowStats(1, 3.0, 3.0, 3.0, 1, AS_OF)


def test_cursor_cannot_move_backwards(state: OnlineState) -> None:
    with pytest.raises(ValueError, match="to_seq"):
        state.apply([up(AS_OF)], 5, 4)
    assert state.cursor() == 0


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (up(AS_OF, value=math.nan), "value"),
        (up(AS_OF, value=math.inf), "value"),
        (up(AS_OF, metric=""), "metric"),
        (StateUpdate("user", "u1", "orders", float(AS_OF)), "occurred_at_us"),  # type: ignore[arg-type]
    ],
)
def test_invalid_update_rejects_whole_chunk(
    state: OnlineState, bad: StateUpdate, field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        state.apply([up(AS_OF), bad], 0, 1)
    assert state.cursor() == 0
    assert state.windows(*ENTITY, [60], AS_OF) == {}


def test_int_values_are_numbers_like_floats(state: OnlineState) -> None:
    feed(state, [up(AS_OF, value=3), up(AS_OF, value=10**30), up(AS_OF, value=-2.5)])
    assert state.window(*ENTITY, "orders", 60, AS_OF) == WindowStats(
        3, 3 + 1e30 - 2.5, -2.5, 1e30, 0, AS_OF
    )


def test_large_chunk(state: OnlineState) -> None:
    """Thousands of updates in one apply, 1500 distinct values in one bucket."""
    chunk = [
        up(AS_OF - (i % 600) * S, value=float(i % 7), distinct=f"ip-{i % 1500}")
        for i in range(6000)
    ]
    feed(state, chunk)
    stats = state.window(*ENTITY, "orders", 3600, AS_OF)
    assert (stats.count, stats.sum, stats.min, stats.max) == (6000, 17_997.0, 0.0, 6.0)
    assert stats.distinct == pytest.approx(1500, rel=0.03)  # HyperLogLog on Redis
    assert state.window(*ENTITY, "orders", 60, AS_OF).count == 6000 * 60 // 600


def test_unicode_names_and_values(state: OnlineState) -> None:
    feed(state, [up(AS_OF, "订单:数", 1.0, "设备-é", ("用户", "张三%3A"))])
    got = state.windows("用户", "张三%3A", [60], AS_OF)
    assert got == {"订单:数": {60: WindowStats(1, 1.0, 1.0, 1.0, 1, AS_OF)}}
    assert state.windows("用户", "张三:", [60], AS_OF) == {}


def test_duplicate_and_no_windows(state: OnlineState) -> None:
    feed(state, [up(AS_OF)])
    assert state.windows(*ENTITY, [60, 60, 3600], AS_OF) == {
        "orders": {
            60: WindowStats(1, 0.0, None, None, 0, AS_OF),
            3600: WindowStats(1, 0.0, None, None, 0, AS_OF),
        }
    }
    assert state.windows(*ENTITY, [], AS_OF) == {"orders": {}}


# --- listing, isolation, validation, reset -------------------------------------------------


def test_windows_lists_every_metric_of_the_entity_only(state: OnlineState) -> None:
    other = ("user", "u2")
    feed(
        state,
        [
            up(AS_OF, metric="orders"),
            up(AS_OF - 50 * DAY, metric="refunds"),  # outside the short windows: still listed
            up(AS_OF, metric="ip:count", distinct="1.2.3.4"),
            up(AS_OF, metric="orders", entity=other),
            up(AS_OF, metric="coupons", entity=other),
            up(AS_OF, metric="x", entity=("user:u1", "x")),  # ':' in names cannot collide
            up(AS_OF, metric="y", entity=("user", "u1:x")),
        ],
    )
    got = state.windows(*ENTITY, [60, 90 * 86_400], AS_OF)
    assert set(got) == {"orders", "refunds", "ip:count"}
    assert got["refunds"][60] == WindowStats.empty()
    assert got["refunds"][90 * 86_400].count == 1
    assert got["ip:count"][60].distinct == 1
    assert set(state.windows(*other, [60], AS_OF)) == {"orders", "coupons"}
    assert set(state.windows("user", "u1:x", [60], AS_OF)) == {"y"}
    assert state.window(*ENTITY, "coupons", 60, AS_OF) == WindowStats.empty()
    only = state.windows(*ENTITY, [60, 90 * 86_400], AS_OF, metrics=["refunds", "nope"])
    assert only == {"refunds": got["refunds"]}  # only what was asked, and the entity has
    assert state.windows(*ENTITY, [60], AS_OF, metrics=[]) == {}


@pytest.mark.parametrize("window_s", [0, 59, -60, 90 * 86_400 + 1, 365 * 86_400])
def test_window_out_of_range_is_rejected(state: OnlineState, window_s: int) -> None:
    feed(state, [up(AS_OF)])
    with pytest.raises(ValueError, match="window_s"):
        state.window(*ENTITY, "orders", window_s, AS_OF)
    with pytest.raises(ValueError, match="window_s"):
        state.windows(*ENTITY, [60, window_s], AS_OF)


def test_reset_forgets_everything(state: OnlineState) -> None:
    feed(state, [up(AS_OF, distinct="a")], [up(AS_OF - DAY, metric="m2")])
    state.reset()
    assert state.cursor() == 0
    assert state.windows(*ENTITY, STANDARD_WINDOWS, AS_OF) == {}
    feed(state, [up(AS_OF - 1, distinct="b")])
    assert state.window(*ENTITY, "orders", 60, AS_OF) == WindowStats(
        1, 0.0, None, None, 1, AS_OF - 1
    )


# --- property: every backend equals a brute-force oracle -----------------------------------

POOL = [f"d{i}" for i in range(20)]  # checked to fill 20 different HyperLogLog registers
EDGE_STEPS = sorted({w // 5 + d for w in ALL_WINDOWS for d in (-1, 0, 1)})  # in 5 s steps

_update = st.builds(
    lambda steps, last_us, entity, metric, value, distinct: up(
        AS_OF + 1 - steps * 5 * S - last_us, metric, value, distinct, ("user", entity)
    ),
    steps=st.one_of(st.integers(1, 91 * 86_400 // 5 - 1), st.sampled_from(EDGE_STEPS)),
    last_us=st.sampled_from([0, 1]),  # a bucket's first or the previous bucket's last µs
    entity=st.sampled_from(["u1", "u2"]),
    metric=st.sampled_from(["orders", "amount"]),
    value=st.none() | st.integers(-1000, 1000).map(float),
    distinct=st.none() | st.sampled_from(POOL),
)


def oracle(updates: Sequence[StateUpdate], entity: str) -> dict[str, dict[int, WindowStats]]:
    result: dict[str, dict[int, WindowStats]] = {}
    for metric in sorted({u.metric for u in updates if u.entity_id == entity}):
        result[metric] = {}
        for w in ALL_WINDOWS:
            inside = [
                u
                for u in updates
                if u.entity_id == entity
                and u.metric == metric
                and AS_OF - w * S < u.occurred_at_us <= AS_OF
            ]
            values = [u.value for u in inside if u.value is not None]
            result[metric][w] = (
                WindowStats(
                    len(inside),
                    float(sum(values)),
                    min(values, default=None),
                    max(values, default=None),
                    len({u.distinct for u in inside if u.distinct is not None}),
                    max(u.occurred_at_us for u in inside),
                )
                if inside
                else WindowStats.empty()
            )
    return result


@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(updates=st.lists(_update, max_size=60), cuts=st.lists(st.integers(0, 60), max_size=3))
def test_matches_brute_force_oracle(
    state: OnlineState, updates: list[StateUpdate], cuts: list[int]
) -> None:
    state.reset()
    bounds = [0, *sorted(c for c in cuts if c < len(updates)), len(updates)]
    feed(state, *[updates[a:b] for a, b in pairwise(bounds)])
    for entity in ("u1", "u2"):
        assert state.windows("user", entity, ALL_WINDOWS, AS_OF) == oracle(updates, entity)


# --- chunks: folded in one apply == applied one by one --------------------------------------

AS_OFS = (AS_OF, AS_OF - 10 * MIN - 7 * S, AS_OF - 3 * HOUR, AS_OF - DAY + 12_345)
"""Instants read by the fold tests: from a day before the newest update on, where a series
dropped for being idle beyond every retention cannot show anyway."""


def read_all(state: OnlineState, entities: Sequence[str]) -> list[object]:
    """Every window of the entities at several instants. A series idle for longer than every
    retention is listed until it is dropped (lazily), with empty windows only: left out."""
    return [
        {
            metric: stats
            for metric, stats in state.windows("user", e, ALL_WINDOWS, as_of).items()
            if any(s.count for s in stats.values())
        }
        for e in entities
        for as_of in AS_OFS
    ]


_clustered = st.builds(
    lambda age, entity, metric, value, distinct: up(
        AS_OF - age, metric, value, distinct, ("user", entity)
    ),
    # mostly within a few minutes of each other (so they share buckets), some late by up to
    # a day and beyond the shortest retention, a few beyond every retention
    age=st.one_of(
        st.integers(0, 10 * MIN),
        st.integers(0, DAY),
        st.integers(90 * DAY, 95 * DAY),
    ),
    entity=st.sampled_from(["u1", "u2"]),
    metric=st.sampled_from(["orders", "amount"]),
    value=st.none() | st.integers(-50, 50).map(float),
    distinct=st.none() | st.sampled_from(POOL),
)


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(updates=st.lists(_clustered, min_size=1, max_size=40))
def test_one_chunk_equals_one_by_one(state: OnlineState, updates: list[StateUpdate]) -> None:
    """Folding a chunk per series and bucket (and judging retention by the chunk's newest
    update) reads exactly like applying its updates one at a time."""
    state.reset()
    feed(state, *[[u] for u in updates])
    one_by_one = read_all(state, ["u1", "u2"])
    state.reset()
    feed(state, updates)
    assert read_all(state, ["u1", "u2"]) == one_by_one


def test_long_series_across_pruning_matches_oracle(state: OnlineState) -> None:
    """Four months of one busy series in 80 chunks: buckets fall out of retention and are
    pruned along the way; every window still equals the brute-force answer."""
    rng = random.Random(11)
    start = AS_OF - 120 * DAY
    updates = []
    for i in range(4000):
        t = start + i * (120 * DAY // 4000) - (rng.randrange(40 * MIN) if i % 5 == 0 else 0)
        updates.append(up(t, "orders", float(rng.randrange(-9, 10)), rng.choice(POOL[:12])))
    updates.append(up(AS_OF, "orders", 0.0, "d0"))
    feed(state, *[updates[i : i + 50] for i in range(0, len(updates), 50)])
    assert state.windows("user", "u1", ALL_WINDOWS, AS_OF) == oracle(updates, "u1")


def test_distinct_values_accumulate_across_chunks(state: OnlineState) -> None:
    """Exact while small, then approximately right (Redis spills a busy bucket to a
    HyperLogLog), whichever chunks the values arrive in."""
    feed(state, *[[up(AS_OF - i * S, distinct=f"v{i % 20}")] for i in range(40)])
    assert state.window(*ENTITY, "orders", 60, AS_OF).distinct == 20
    feed(
        state,
        *[
            [up(AS_OF - 30 * S, distinct=f"w{i}") for i in range(j, j + 50)]
            for j in range(0, 500, 50)
        ],
    )
    stats = state.window(*ENTITY, "orders", 60, AS_OF)
    assert stats.count == 540
    assert stats.distinct == pytest.approx(520, rel=0.03)
    assert state.window(*ENTITY, "orders", 90 * 86_400, AS_OF).distinct == stats.distinct


def test_busy_entity_in_one_chunk_matches_oracle(state: OnlineState) -> None:
    """One chunk giving an entity thousands of buckets (Redis batches its calls and reads such
    an entity range by range instead of whole)."""
    updates = [  # every 5 s for 6 hours, round-robin over 6 metrics: ~2,600 live buckets
        up(AS_OF - i * 5 * S, metric=f"m{i % 6}", value=float(i % 11), distinct=POOL[i % 20])
        for i in range(6 * 720)
    ]
    feed(state, updates)
    assert state.windows("user", "u1", ALL_WINDOWS, AS_OF) == oracle(updates, "u1")
    assert state.window("user", "u1", "m1", 3600, AS_OF) == oracle(updates, "u1")["m1"][3600]


# --- Redis specifics -------------------------------------------------------------------------


@pytest.mark.redis
def test_redis_state_of_an_older_layout_is_rebuilt(redis_state: RedisOnlineState) -> None:
    """A cursor left by an older key layout counts as 0, so the projector rebuilds the state
    into the current keys instead of reading keys that are not there."""
    client = redis_state._client
    prefix = redis_state._prefix
    client.set(f"{prefix}:cursor", 42)
    assert redis_state.cursor() == 0
    assert not redis_state.apply([up(AS_OF)], 42, 43)
    assert redis_state.apply([up(AS_OF)], 0, 3)
    assert redis_state.cursor() == 3
    assert client.get(f"{prefix}:cursor") == b"3"
    assert count(redis_state, 60, AS_OF) == 1


@pytest.mark.redis
def test_redis_entity_hash_stays_bounded(redis_state: RedisOnlineState) -> None:
    """A year of one entity's updates in many chunks: stale buckets and idle series are
    pruned, so the entity hash holds about what the retentions keep."""
    client = redis_state._client
    start = AS_OF - 365 * DAY
    chunks = [
        [
            up(start + (i * 200 + j) * (365 * DAY // 20_000), metric=f"m{(i // 25) % 4}")
            for j in range(200)
        ]
        for i in range(100)
    ]
    feed(redis_state, *chunks)
    fields = client.hlen(f"{redis_state._prefix}:e:user:u1")
    kept = sum(r.keep_buckets for r in RESOLUTIONS)
    assert fields <= 2 * kept  # one series active at a time, plus the pruning slack
    recent = [u for c in chunks for u in c if u.occurred_at_us > AS_OF - 90 * DAY]
    assert all(u.metric == "m3" for u in recent)
    assert count(redis_state, 90 * 86_400, AS_OF, metric="m3") == len(recent)
    assert set(redis_state.windows("user", "u1", [60], AS_OF)) <= {"m0", "m1", "m2", "m3"}
