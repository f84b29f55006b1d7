"""The ``events`` counter is derived on read from the per-type counters."""

from __future__ import annotations

from riskops.core.entities.counters import EVENTS, events_total, with_derived
from riskops.core.entities.extract import extract
from riskops.core.state.buckets import BucketStore
from riskops.core.state.model import WindowStats

S = 1_000_000
AS_OF = 20_000 * 86_400 * S - 1


def _record(event_type: str, at: str, **payload: object) -> dict[str, object]:
    return {
        "type": event_type,
        "occurred_at": at,
        "market": "ID",
        "user_id": "u1",
        "device": {"fingerprint": "fp1"},
        "ip": "10.0.0.1",
        "payload": payload,
    }


def test_events_total_adds_up_per_type_counts_and_takes_the_newest_last_seen() -> None:
    stats = {
        "order_placed": {60: WindowStats(2, 30.0, 10.0, 20.0, 0, 100), 3600: WindowStats.empty()},
        "login_failed": {60: WindowStats(3, 0.0, None, None, 0, 250), 3600: WindowStats.empty()},
        "devices": {60: WindowStats(9, 0.0, None, None, 4, 999)},  # not an event-type counter
    }
    total = events_total(stats)
    assert total == {
        60: WindowStats(5, 0.0, None, None, 0, 250),
        3600: WindowStats(0, 0.0, None, None, 0, None),
    }
    assert with_derived(stats)[EVENTS] == total
    assert EVENTS not in with_derived({"devices": stats["devices"]})


def test_extracted_updates_give_the_same_events_total_as_counting_events() -> None:
    store = BucketStore()
    records = [
        _record("login.succeeded", "2024-10-04T23:59:00Z"),
        _record("page.viewed", "2024-10-04T23:59:10Z", page="/", dwell_ms=1200),
        _record("order.placed", "2024-10-04T23:59:30Z", amount=12.5),
    ]
    for record in records:
        updates = extract(record, b"k").updates
        assert all(u.metric != EVENTS for u in updates)  # not stored
        store.merge(store.prepare(updates))
    as_of = 1_728_086_399_999_999  # 2024-10-04T23:59:59.999999Z
    for entity_type, entity_id in (("user", "u1"), ("device", "fp1"), ("ip", "10.0.0.1")):
        total = events_total(store.windows(entity_type, entity_id, [60, 3600], as_of))
        assert total[60].count == 3
        assert total[60].last_seen_us == 1_728_086_370_000_000
