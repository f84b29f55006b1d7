"""The simulator: seeded and reproducible, every event valid in the catalogue, and each attack
leaves the traces it is meant to leave - in its first and its adapted generation - with labels
that name real orders, users, events, devices, merchants and listings."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from riskops.core.events import parse_event
from riskops.simulator import SimConfig, days, simulate

SMALL = {"days": 3, "users": 2000, "merchants": 100, "skus": 2000}


def _run(generation: int = 1, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for day_events, day_labels in days(SimConfig(seed=seed, generation=generation, **SMALL)):
        events += day_events
        labels += day_labels
    return events, labels


@pytest.fixture(scope="module")
def gen1() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return _run(1)


@pytest.fixture(scope="module")
def gen2() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return _run(2)


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    config = SimConfig(seed=11, **SMALL)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    simulate(config, a, tmp_path / "la.jsonl")
    simulate(config, b, tmp_path / "lb.jsonl")
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "la.jsonl").read_bytes() == (tmp_path / "lb.jsonl").read_bytes()
    simulate(SimConfig(seed=12, **SMALL), b, tmp_path / "lb.jsonl")
    assert a.read_bytes() != b.read_bytes()


@pytest.mark.parametrize("generation", [1, 2])
def test_every_event_is_valid_and_in_time_order(generation: int) -> None:
    events, _ = _run(generation)
    received = datetime(2026, 12, 1, tzinfo=UTC)
    problems = [(e["type"], parse_event(e, received_at=received, secret=b"s")) for e in events]
    assert [p for p in problems if isinstance(p[1], list)] == []
    times = [e["occurred_at"] for e in events]
    assert times == sorted(times)
    assert len({e["event_id"] for e in events}) == len(events)


def test_honest_traffic_has_funnels_payments_and_bilingual_reviews() -> None:
    events: list[dict[str, Any]] = []
    for day_events, _ in days(SimConfig(**{**SMALL, "days": 8})):
        events += day_events
    kinds = defaultdict(int)
    for e in events:
        kinds[e["type"]] += 1
    assert kinds["page.viewed"] > kinds["cart.item_added"] > kinds["checkout.started"]
    honest_orders = sum(
        1 for e in events if e["type"] == "order.placed" and e["payload"].get("session_id")
    )
    assert kinds["checkout.started"] > honest_orders > 0
    methods = {e["payload"]["payment_method"] for e in events if e["type"] == "order.placed"}
    assert {"cod", "card", "wallet"} <= methods
    languages = {e["payload"].get("language") for e in events if e["type"] == "review.posted"}
    assert {"en", "zh"} <= languages
    markets = {e["market"] for e in events}
    assert len(markets) == 6


def _labelled(labels: list[dict[str, Any]], attack: str, entity: str) -> set[str]:
    return {x["entity_id"] for x in labels if x["attack"] == attack and x["entity_type"] == entity}


def test_labels_name_things_that_exist(gen1: Any) -> None:
    events, labels = gen1
    orders = {e["payload"]["order_id"] for e in events if e["type"] == "order.placed"}
    ids = {e["event_id"] for e in events}
    for label in labels:
        if label["entity_type"] == "order":
            assert label["entity_id"] in orders
        if label["entity_type"] == "event":
            assert label["entity_id"] in ids
    attacks = {x["attack"] for x in labels}
    assert {
        "brushing",
        "coupon_abuse",
        "account_takeover",
        "refund_abuse",
        "scraping",
        "fake_discount",
    } <= attacks


def _devices_per_ring(events: list[dict[str, Any]], labels: list[dict[str, Any]]) -> float:
    brushed = _labelled(labels, "brushing", "order")
    by_merchant: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e["type"] == "order.placed" and e["payload"]["order_id"] in brushed:
            by_merchant[e["payload"]["items"][0]["merchant_id"]].add(e["device"]["fingerprint"])
    return sum(len(d) for d in by_merchant.values()) / max(1, len(by_merchant))


def test_brushing_rings_share_devices_and_adapt(gen1: Any, gen2: Any) -> None:
    first, second = _devices_per_ring(*gen1), _devices_per_ring(*gen2)
    assert 1 <= first <= 2
    assert second > 4  # the adapted rings spread over more devices


def _claim_to_redeem_s(events: list[dict[str, Any]], labels: list[dict[str, Any]]) -> list[float]:
    abusers = _labelled(labels, "coupon_abuse", "user")
    claims: dict[str, str] = {}
    gaps = []
    for e in events:
        if e.get("user_id") not in abusers:
            continue
        if e["type"] == "coupon.claimed":
            claims[e["user_id"]] = e["occurred_at"]
        elif e["type"] == "coupon.redeemed" and e["user_id"] in claims:
            a = datetime.fromisoformat(claims[e["user_id"]].replace("Z", "+00:00"))
            b = datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00"))
            gaps.append((b - a).total_seconds())
    return gaps


def test_coupon_farms_redeem_in_seconds_and_adapt(gen1: Any, gen2: Any) -> None:
    fast, slow = _claim_to_redeem_s(*gen1), _claim_to_redeem_s(*gen2)
    assert fast
    assert max(fast) < 30
    assert slow
    assert min(slow) > 3600
    events, labels = gen1
    farm = _labelled(labels, "coupon_abuse", "user")
    emulators = {
        e["device"]["fingerprint"]
        for e in events
        if e.get("user_id") in farm and (e.get("device") or {}).get("emulator")
    }
    assert 1 <= len(emulators) <= 3  # a few emulators for tens of accounts
    drops = {
        e["payload"]["shipping_address"]["line1"]
        for e in events
        if e["type"] == "order.placed" and e.get("user_id") in farm
    }
    assert len(drops) >= 4  # many spellings of one drop address


def test_takeovers_fail_then_log_in_elsewhere_and_order_big(gen1: Any) -> None:
    events, labels = gen1
    logins = _labelled(labels, "account_takeover", "event")
    hijacked = {e["user_id"] for e in events if e["event_id"] in logins}
    assert hijacked
    for user in list(hijacked)[:5]:
        mine = [e for e in events if e.get("user_id") == user]
        kinds = [e["type"] for e in mine]
        assert "login.failed" in kinds
        assert "address.changed" in kinds


@pytest.mark.parametrize(
    "bad",
    [
        {"days": 0},
        {"markets": ("XX",)},
        {"generation": 3},
        {"users": 5},
        {"intensity": {"nope": 1.0}},
    ],
)
def test_bad_configs_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        SimConfig(**{**SMALL, **bad})


def test_parquet_output(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    summary = simulate(
        SimConfig(**{**SMALL, "days": 1}),
        tmp_path / "e.parquet",
        tmp_path / "l.jsonl",
        fmt="parquet",
    )
    table = pq.read_table(tmp_path / "e.parquet")
    assert table.num_rows == summary.events
    assert orjson.loads(table.column("payload")[0].as_py()) is not None
