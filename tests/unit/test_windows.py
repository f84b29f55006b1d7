"""The pure core of the online state: window names, resolutions, bucket arithmetic, buckets."""

from __future__ import annotations

import math
import random
import re

import pytest

from riskops.core.state.buckets import (
    MAX_DISTINCT_PER_BUCKET,
    BucketStore,
    bucket_bound,
    bucket_counts,
    distinct_digest,
    distinct_hash,
    group_updates,
    roll_up,
    series_entry_bound,
    validate_update,
)
from riskops.core.state.model import StateUpdate, WindowStats
from riskops.core.state.windows import (
    MAX_WINDOW_S,
    RESOLUTIONS,
    STANDARD_WINDOWS,
    bucket_of,
    bucket_range,
    format_window,
    parse_window,
    plan_windows,
    resolution_for,
    validate_window,
)

S = 1_000_000
DAY = 86_400 * S
AS_OF = 20_000 * DAY - 1

NAMES = [
    ("1m", 60),
    ("5m", 300),
    ("15m", 900),
    ("1h", 3600),
    ("6h", 21_600),
    ("24h", 86_400),
    ("7d", 604_800),
    ("30d", 2_592_000),
    ("90d", 7_776_000),
]


@pytest.mark.parametrize(("text", "seconds"), NAMES)
def test_window_names_round_trip(text: str, seconds: int) -> None:
    assert parse_window(text) == seconds
    assert format_window(seconds) == text


@pytest.mark.parametrize(
    ("text", "seconds"), [("60s", 60), ("90m", 5400), ("36h", 129_600), ("2d", 172_800)]
)
def test_other_spellings_parse(text: str, seconds: int) -> None:
    assert parse_window(text) == seconds
    assert parse_window(format_window(seconds)) == seconds


@pytest.mark.parametrize(
    "text", ["", "m", "5", "5 m", " 5m", "5M", "1.5h", "-1m", "0m", "05m", "1w", "1h30m", "abc"]
)
def test_garbage_window_names_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_window(text)


@pytest.mark.parametrize("text", ["59s", "30s", "91d", "2161h"])
def test_window_names_out_of_range_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match=rf"{text!r}.*between 1m and 90d"):
        parse_window(text)


def test_standard_windows() -> None:
    assert [format_window(w) for w in STANDARD_WINDOWS] == [
        "1m",
        "5m",
        "1h",
        "24h",
        "7d",
        "30d",
        "90d",
    ]


@pytest.mark.parametrize("window_s", [0, 59, -60, MAX_WINDOW_S + 1, 60.0, True, "60"])
def test_validate_window_rejects(window_s: object) -> None:
    with pytest.raises(ValueError, match="window_s"):
        validate_window(window_s)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("window_s", "bucket_s"),
    [
        (60, 5),
        (300, 5),
        (900, 5),
        (955, 5),
        (956, 60),
        (3600, 60),
        (21_600, 60),
        (21_840, 60),
        (21_841, 600),
        (86_400, 600),
        (48 * 3600, 600),
        (7 * 86_400, 3600),
        (8 * 86_400 - 3600, 3600),
        (8 * 86_400 - 3599, 86_400),
        (30 * 86_400, 86_400),
        (90 * 86_400, 86_400),
    ],
)
def test_finest_resolution_covering_window_plus_one_bucket(window_s: int, bucket_s: int) -> None:
    res = resolution_for(window_s)
    assert res.bucket_s == bucket_s
    assert window_s + res.bucket_s <= res.retention_s


def test_resolutions_go_from_fine_to_coarse() -> None:
    assert [r.bucket_s for r in RESOLUTIONS] == sorted(r.bucket_s for r in RESOLUTIONS)
    assert RESOLUTIONS[-1].max_window_s == MAX_WINDOW_S
    for res in RESOLUTIONS:
        assert res.retention_s % res.bucket_s == 0


@pytest.mark.parametrize("window_s", [60, 300, 900, 3600, 86_400, 7 * 86_400, 90 * 86_400])
def test_bucket_range_edges(window_s: int) -> None:
    rng = random.Random(window_s)
    res = resolution_for(window_s)
    for _ in range(200):
        as_of = AS_OF - rng.randrange(10 * DAY)
        lo, hi = bucket_range(window_s, as_of, res)
        oldest_inside = as_of - window_s * S + 1
        assert lo == bucket_of(oldest_inside, res)
        assert hi == bucket_of(as_of, res)
        # never counted: one bucket minus 1 µs before the old edge
        assert bucket_of(as_of - window_s * S - res.bucket_us + 1, res) < lo


def test_bucket_range_is_exact_when_aligned() -> None:
    for w in STANDARD_WINDOWS:
        res = resolution_for(w)
        lo, hi = bucket_range(w, AS_OF, res)
        assert lo * res.bucket_us == AS_OF - w * S + 1
        assert (hi + 1) * res.bucket_us == AS_OF + 1


def test_plan_groups_windows_by_resolution() -> None:
    plans = plan_windows([*STANDARD_WINDOWS, 60, 900], AS_OF)
    assert [(p.resolution.bucket_s, p.windows) for p in plans] == [
        (5, (60, 300, 900)),
        (60, (3600,)),
        (600, (86_400,)),
        (3600, (604_800,)),
        (86_400, (2_592_000, 7_776_000)),
    ]
    for p in plans:
        assert list(p.los) == sorted(p.los, reverse=True)
        assert all(lo <= p.hi for lo in p.los)


def test_plan_validates_windows() -> None:
    with pytest.raises(ValueError, match="window_s"):
        plan_windows([60, 30], AS_OF)


@pytest.mark.parametrize("bad", [60.0, True, "60"])
def test_plan_validates_windows_equal_to_a_cached_one(bad: object) -> None:
    """Window sets are grouped once and cached; a float or bool equal to a valid int window
    must still be rejected, not served from the cache."""
    plan_windows([60, 3600], AS_OF)
    with pytest.raises(ValueError, match="window_s"):
        plan_windows([bad, 3600], AS_OF)  # type: ignore[list-item]


def test_plan_depends_on_as_of_not_on_the_cache() -> None:
    for as_of in (AS_OF, AS_OF - 7 * S, AS_OF - 123_456_789):
        plans = plan_windows(STANDARD_WINDOWS, as_of)
        for p in plans:
            assert p.hi == bucket_of(as_of, p.resolution)
            assert p.los == tuple(bucket_range(w, as_of, p.resolution)[0] for w in p.windows)


# --- buckets ---------------------------------------------------------------------------------


def test_distinct_hash_is_deterministic_64_bit() -> None:
    assert distinct_hash("a") == 0x40F89E395B66422F
    assert 0 <= distinct_hash("x" * 1000) < 2**64


def test_an_update_is_written_once_at_the_finest_level_that_keeps_it() -> None:
    store = BucketStore()
    store.add(StateUpdate("user", "u1", "m", AS_OF))
    series = store.series("user", "u1", "m")
    assert series is not None
    assert bucket_counts(series) == [1, 0, 0, 0, 0]
    store.add(StateUpdate("user", "u1", "m", AS_OF - 20 * 60 * S))  # beyond 16 min, within 6 h
    assert bucket_counts(series) == [1, 1, 0, 0, 0]
    store.add(StateUpdate("user", "u1", "m", AS_OF - 30 * DAY))  # only the daily level keeps it
    assert bucket_counts(series) == [1, 1, 0, 0, 1]
    store.add(StateUpdate("user", "u1", "m", AS_OF - 92 * DAY))  # beyond every retention
    assert bucket_counts(series) == [1, 1, 0, 0, 1]
    got = store.windows("user", "u1", [900, 3600, 90 * 86_400], AS_OF)["m"]
    assert [got[w].count for w in (900, 3600, 90 * 86_400)] == [1, 2, 3]


def test_roll_up_moves_aged_buckets_to_the_next_level_that_keeps_them() -> None:
    store = BucketStore()
    for minutes in (0, 1, 2):  # three 5 s buckets of one minute, an hour before the newest
        store.add(StateUpdate("user", "u1", "m", AS_OF + 1 - 3600 * S + minutes * 5 * S, 2.0, "a"))
    store.add(StateUpdate("user", "u1", "m", AS_OF, 5.0, "b"))
    series = store.series("user", "u1", "m")
    assert series is not None
    before = store.windows("user", "u1", [3600 + 60, 86_400], AS_OF)["m"]
    assert bucket_counts(series) == [4, 0, 0, 0, 0]
    roll_up(series)
    assert bucket_counts(series) == [1, 1, 0, 0, 0]  # the three merged into one minute bucket
    after = store.windows("user", "u1", [3600 + 60, 86_400], AS_OF)["m"]
    assert after == before
    assert after[86_400] == WindowStats(4, 11.0, 2.0, 5.0, 2, AS_OF)


def test_memory_is_bounded_by_retention() -> None:
    """100k updates over 200 days, roughly in order with some late ones, into one series."""
    rng = random.Random(7)
    store = BucketStore()
    start = AS_OF - 200 * DAY
    step = 200 * DAY // 100_000
    chunk = []
    for i in range(100_000):
        late = rng.randrange(30 * 60 * S) if rng.random() < 0.2 else 0
        t = start + i * step - late
        chunk.append(StateUpdate("user", "u1", "m", t, 1.0, str(rng.randrange(50))))
        if len(chunk) == 50:
            store.merge(store.prepare(chunk))
            chunk.clear()
            series = store.series("user", "u1", "m")
            assert series is not None
            assert len(series) <= series_entry_bound()
    # a 200-day series kept at 5 s would need 3.4M buckets; retention keeps about a thousand
    # (1139 intersect the retentions) plus the lazy-pruning slack
    assert store.bucket_count() < 1_500
    bounds = [bucket_bound(r) for r in RESOLUTIONS]
    series = store.series("user", "u1", "m")
    assert series is not None
    roll_up(series)
    assert all(n <= r.keep_buckets for n, r in zip(bucket_counts(series), RESOLUTIONS, strict=True))
    assert sum(bucket_counts(series)) <= sum(bounds)


def test_distinct_values_kept_packed_then_as_a_set_are_exact() -> None:
    """Up to 64 digests of a bucket are packed in one bytes, more in a set: both exact, across
    merges, with repeated values and at every resolution."""
    store = BucketStore()
    for start in range(0, 300, 30):
        store.merge(
            store.prepare(
                StateUpdate("user", "u1", "ip", AS_OF - i * S, distinct=f"v{i % 150}")
                for i in range(start, start + 30)
            )
        )
    got = store.windows("user", "u1", [60, 3600, 90 * 86_400], AS_OF)["ip"]
    assert got[60].distinct == len({i % 150 for i in range(300) if i * S < 60 * S})
    assert got[3600].distinct == 150
    assert got[90 * 86_400].distinct == 150
    assert got[3600].count == 300


def test_roll_up_changes_no_read() -> None:
    rng = random.Random(5)
    store = BucketStore()
    updates = [
        StateUpdate("user", "u1", "m", AS_OF - rng.randrange(200 * DAY), 1.0, str(i % 7))
        for i in range(3000)
    ]
    updates.sort(key=lambda u: u.occurred_at_us)
    for i in range(0, len(updates), 50):  # older buckets go stale as the chunks go by
        store.merge(store.prepare(updates[i : i + 50]))
    store.add(StateUpdate("user", "u1", "m", AS_OF + DAY, 1.0, "x"))  # a day's buckets age out
    windows = (*STANDARD_WINDOWS, 900, 6 * 3600)
    before = [store.windows("user", "u1", windows, AS_OF - d * DAY) for d in (0, 1, 30)]
    series = store.series("user", "u1", "m")
    assert series is not None
    size = len(series)
    roll_up(series)
    assert len(series) < size
    assert [store.windows("user", "u1", windows, AS_OF - d * DAY) for d in (0, 1, 30)] == before


def test_distinct_cap_gives_a_lower_bound() -> None:
    store = BucketStore()
    n = MAX_DISTINCT_PER_BUCKET + 500
    for i in range(n):
        store.add(StateUpdate("user", "u1", "ip", AS_OF, distinct=f"v{i}"))
    stats = store.window("user", "u1", "ip", 60, AS_OF)
    assert stats.count == n
    assert stats.distinct == MAX_DISTINCT_PER_BUCKET


def test_windows_in_one_pass_equal_windows_one_by_one() -> None:
    rng = random.Random(3)
    store = BucketStore()
    for _ in range(3000):
        metric = rng.choice(["a", "b", "c"])
        value = rng.choice([None, rng.uniform(-5, 5)])
        distinct = rng.choice([None, str(rng.randrange(40))])
        t = AS_OF - rng.randrange(95 * DAY) + rng.randrange(DAY)
        store.add(StateUpdate("user", "u1", metric, t, value, distinct))
    windows = (*STANDARD_WINDOWS, 900, 7200, 6 * 86_400)
    for as_of in (AS_OF, AS_OF - 12_345_678_901):
        together = store.windows("user", "u1", windows, as_of)
        assert set(together) == {"a", "b", "c"}
        for metric, by_window in together.items():
            for w in windows:
                alone = store.window("user", "u1", metric, w, as_of)
                assert by_window[w].count == alone.count
                assert by_window[w].sum == pytest.approx(alone.sum)
                assert by_window[w] == WindowStats(
                    alone.count,
                    by_window[w].sum,
                    alone.min,
                    alone.max,
                    alone.distinct,
                    alone.last_seen_us,
                )


def test_evict_idle_drops_only_series_out_of_every_window() -> None:
    store = BucketStore()
    store.add(StateUpdate("user", "old", "orders", AS_OF - 91 * DAY))
    store.add(StateUpdate("user", "recent", "orders", AS_OF - 90 * DAY + 1))
    assert store.evict_idle(AS_OF) == 1
    assert store.series_count() == 1
    assert store.windows("user", "old", STANDARD_WINDOWS, AS_OF) == {}
    assert store.window("user", "recent", "orders", 90 * 86_400, AS_OF).count == 1


@pytest.mark.parametrize(
    ("update", "field"),
    [
        (StateUpdate("user", "u1", "m", 1, value=math.nan), "value"),
        (StateUpdate("user", "u1", "m", 1, value=-math.inf), "value"),
        (StateUpdate("user", "u1", "m", 1, value=True), "value"),
        (StateUpdate("user", "u1", "m", 1.5), "occurred_at_us"),  # type: ignore[arg-type]
        (StateUpdate("", "u1", "m", 1), "entity_type"),
        (StateUpdate("user", "", "m", 1), "entity_id"),
        (StateUpdate("user", "u1", "", 1), "metric"),
        (StateUpdate("user", "u1", "m", 1, distinct=5), "distinct"),  # type: ignore[arg-type]
        (StateUpdate("user", "u1", "m", 1, value=10**400), "value"),
        (StateUpdate("user", "u1", "m", 2**53 + 1), "occurred_at_us"),
        (StateUpdate("user", "u1\ud800", "m", 1), "entity_id"),
        (StateUpdate("user", "u1", "m", 1, distinct="\udfff"), "distinct"),
    ],
)
def test_validate_update_names_the_field(update: StateUpdate, field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}"):
        validate_update(update)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (StateUpdate("user", "u1", "m", 2, value=math.nan), "value"),
        (StateUpdate("user", "u1", "m", 2, value=True), "value"),
        (StateUpdate("user", "u1", "m", 2.0), "occurred_at_us"),  # type: ignore[arg-type]
        (StateUpdate("user", "u1", "m", -(2**53) - 1), "occurred_at_us"),
        (StateUpdate("user", "u1", "m", 2, distinct=b"d"), "distinct"),  # type: ignore[arg-type]
        (StateUpdate("user", "u1", "m", 2, distinct="\udfff"), "distinct"),
        (StateUpdate("user", ["u1"], "m", 2), "entity_id"),  # type: ignore[arg-type]
    ],
)
def test_a_chunk_is_validated_update_by_update(bad: StateUpdate, field: str) -> None:
    """Grouping checks names once per series and digests once per value, yet rejects an
    invalid update wherever it is in the chunk, naming the field."""
    ok = StateUpdate("user", "u1", "m", 1, value=1.0, distinct="d")
    with pytest.raises(ValueError, match=f"^{field}"):
        group_updates([ok, ok, bad, ok], distinct_digest)
    store = BucketStore()
    with pytest.raises(ValueError, match=f"^{field}"):
        store.merge(store.prepare([ok, bad]))
    assert store.series_count() == 0


def test_grouping_keeps_order_and_normalises_int_values() -> None:
    updates = [
        StateUpdate("user", "u1", "m", 3, value=2),
        StateUpdate("user", "u2", "m", 1),
        StateUpdate("user", "u1", "m", 1, distinct="x"),
    ]
    groups = group_updates(updates, str)
    assert groups == {
        ("user", "u1", "m"): [(3, 2.0, None), (1, None, "x")],
        ("user", "u2", "m"): (1, None, None),
    }
    assert type(groups["user", "u1", "m"][0][1]) is float  # type: ignore[index]


def test_valid_updates_pass() -> None:
    for update in (
        StateUpdate("user", "u1", "m", -(2**53)),
        StateUpdate("user", "用户", "m", 2**53, value=3, distinct=""),
        StateUpdate("user", "u1", "m", 0, value=-1.5, distinct="é"),
    ):
        validate_update(update)
