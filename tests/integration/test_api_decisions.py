"""Decisions over HTTP on the embedded default: push / activate / roll back rulesets, decide at a
checkpoint with velocity features as they were before the event, reasons in two languages, the
stored trace, shadow rules, lists, bad requests; hot reload between two processes' services."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from riskops.services.runtime import Runtime, build_runtime
from riskops.stores.base import ListEntry
from tests.factories import NOW, event
from tests.integration.testclient import TestClient

RULES = (Path(__file__).resolve().parents[2] / "examples" / "rules_order.yaml").read_text(
    encoding="utf-8"
)


@pytest.fixture
def runtime(ops_runtime: Runtime) -> Runtime:
    return ops_runtime


@pytest.fixture
def client(ops_client: TestClient) -> TestClient:
    return ops_client


def push(client: TestClient, text: str = RULES, checkpoint: str = "order") -> int:
    response = client.post(f"/v1/rulesets/{checkpoint}?note=starter", content=text.encode())
    assert response.status_code == 201, response.text
    version: int = response.json()["version"]
    return version


def activate(client: TestClient, version: int, checkpoint: str = "order") -> dict[str, Any]:
    response = client.post(f"/v1/rulesets/{checkpoint}/{version}/activate")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cod_order(minutes_ago: int, **kwargs: Any) -> dict[str, Any]:
    return event("order.placed", at=NOW - timedelta(minutes=minutes_ago), **kwargs)


def decide(client: TestClient, body: dict[str, Any], checkpoint: str = "order") -> Any:
    return client.post(f"/v1/decisions/{checkpoint}", json=body)


def test_without_an_active_ruleset_everything_is_allowed(client: TestClient) -> None:
    response = decide(client, cod_order(5))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["outcome"], body["score"], body["reasons"]) == ("allow", 0, [])
    assert body["versions"]["ruleset"] is None


def test_velocity_rule_fires_on_the_fourth_cod_order_with_reasons(client: TestClient) -> None:
    activate(client, push(client))
    outcomes = [decide(client, cod_order(40 - i * 10)).json() for i in range(4)]
    assert [o["outcome"] for o in outcomes] == ["allow", "allow", "allow", "review"]
    last = outcomes[-1]
    assert last["actions"] == ["require_online_payment"]
    assert last["score"] == 30
    (reason,) = last["reasons"]
    assert reason["rule_id"] == "cod_burst"
    assert reason["text"] == {
        "en": "Several cash-on-delivery orders within an hour",
        "zh": "一小时内多次货到付款下单",
    }
    # three earlier orders: the state before this event (the event itself is not counted)
    assert reason["values"] == {"event.payment_method": "cod", "velocity.user.orders_1h": 3}
    assert last["versions"]["ruleset"] == 1
    trace = client.get(f"/v1/decisions/{last['decision_id']}").json()
    assert trace["trace"]["cod_burst"] == {
        "value": True,
        "nodes": {
            "1:1 event.payment_method": "cod",
            "1:1 ==": True,
            "1:34 velocity.user.orders_1h": 3,
            "1:34 >=": True,
            "1:1 &&": True,
        },
    }
    assert trace["fields"]["graph.device.distinct_users_30d"] == 1
    # the decided events are in the log
    assert client.get(f"/v1/events/{last['event_id']}").status_code == 200


def test_block_list_denies_and_allow_list_skips_named_rules(
    client: TestClient, runtime: Runtime
) -> None:
    activate(client, push(client))
    with runtime.store.begin(write=True) as uow:
        uow.lists.put(
            ListEntry("blocked_devices", "device", "dev-bad", "block", "fraud", "t", 0, None)
        )
        uow.lists.put(ListEntry("vip", "user", "u-vip", "allow", "vip", "t", 0, None))
        uow.commit()
    denied = decide(client, cod_order(1, device="dev-bad")).json()
    assert (denied["outcome"], denied["actions"]) == ("deny", ["block"])
    for i in range(4):
        vip = decide(client, cod_order(30 - i, user="u-vip")).json()
    assert vip["outcome"] == "allow"
    assert client.get(f"/v1/decisions/{vip['decision_id']}").json()["skipped"] == ["cod_burst"]


def test_shadow_rule_hits_are_recorded_but_change_nothing(client: TestClient) -> None:
    activate(client, push(client))
    big = cod_order(1, user="u-new")
    big["payload"]["items"][0].update(price=900.0, qty=1)
    body = decide(client, big).json()
    assert body["shadow_hits"] == ["big_first_order"]
    assert (body["outcome"], body["score"]) == ("allow", 0)


def test_rollback_and_versions(client: TestClient) -> None:
    v1 = push(client)
    v2 = push(client, RULES.replace("orders_1h >= 3", "orders_1h >= 0"))
    activate(client, v2)
    assert decide(client, cod_order(1)).json()["outcome"] == "review"
    assert activate(client, v1) == {"checkpoint": "order", "active": v1, "before": v2}
    assert decide(client, cod_order(2)).json()["outcome"] == "allow"
    listing = client.get("/v1/rulesets/order").json()
    assert listing["active"] == v1
    assert [v["version"] for v in listing["versions"]] == [1, 2]
    assert listing["versions"][0]["author"] == "ops"
    assert client.get("/v1/rulesets/order/2").text.count("orders_1h >= 0") == 1


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v1/decisions/nope", None, 404, None),
        ("/v1/decisions/login", "order", 422, "type"),
        ("/v1/decisions/order", "bad-amount", 422, "payload.items.0.price"),
        ("/v1/decisions/order", [], 422, "body"),
    ],
)
def test_bad_decision_requests_name_the_field(
    client: TestClient, path: str, body: Any, status: int, field: str | None
) -> None:
    if body == "order" or body is None:
        payload: Any = cod_order(1)
    elif body == "bad-amount":
        payload = cod_order(1)
        payload["payload"]["items"][0]["price"] = "lots"
    else:
        payload = body
    response = client.post(path, json=payload)
    assert response.status_code == status, response.text
    if field:
        assert field in [p["field"] for p in response.json()["error"]["problems"]]


def test_an_invalid_ruleset_cannot_be_pushed(client: TestClient) -> None:
    response = client.post(
        "/v1/rulesets/order",
        content=b"checkpoint: order\nrules:\n  - {id: r, when: 'event.amout > 1', outcome: deny}\n",
    )
    assert response.status_code == 422
    (problem,) = response.json()["error"]["problems"]
    assert problem == {
        "field": "rules[0] (r).when",
        "reason": "line 3: 1:1: unknown field 'event.amout'",
    }
    other = client.post("/v1/rulesets/login", content=RULES.encode())
    assert other.status_code == 422
    assert other.json()["error"]["problems"][0]["field"] == "checkpoint"


def test_a_version_activated_elsewhere_is_picked_up_without_restart(
    runtime: Runtime, settings_factory: Any
) -> None:
    other = build_runtime(settings_factory(rules_reload_s=0), clock=lambda: NOW)
    try:
        pushed = other.rules.push(RULES, "ops")
        other.rules.activate("order", pushed.version, "ops")  # e.g. another API process
        active = runtime.rules.active("order")
        assert active is not None
        assert active[0] == pushed.version
    finally:
        other.close()
    with runtime.store.begin() as uow:
        actions = [e.action for e in uow.audit.recent(subject="ruleset:order")]
    assert actions == ["ruleset.activate", "ruleset.push"]


def test_a_retried_request_gets_the_same_decision_and_nothing_twice(
    client: TestClient, runtime: Runtime
) -> None:
    activate(client, push(client))
    body = cod_order(3)
    first = decide(client, body).json()
    again = decide(client, body).json()
    assert again["replayed"] is True
    assert first["replayed"] is False
    assert {k: v for k, v in again.items() if k != "replayed"} == {
        k: v for k, v in first.items() if k != "replayed"
    }
    with runtime.store.begin() as uow:
        assert uow.events.count() == 1
        assert uow.decisions.for_event("order", body["event_id"]) is not None
    # the same event at another checkpoint is another decision
    other = decide(client, body, "payment_method").json()
    assert other["decision_id"] != first["decision_id"]
    assert other["replayed"] is False


ABSENCE = """
checkpoint: coupon_claim
rules:
  - id: claimed_never_redeemed
    when: not_followed_by(last.user.coupon_claims, last.user.coupon_redemptions, duration("1h"))
    outcome: review
    score: 10
  - id: far_from_home
    when: has(device.lat) && geo_km(device.lat, device.lon, 1.3521, 103.8198) > 500.0
    outcome: challenge
  - id: fast_again
    when: has(last.device.coupon_claims) && last.device.coupon_claims < duration("10m")
    outcome: challenge
"""


def test_absence_pattern_last_seen_time_math_and_geo_live(
    client: TestClient, runtime: Runtime
) -> None:
    activate(client, push(client, ABSENCE, "coupon_claim"), "coupon_claim")

    def claim(minutes_ago: int, user: str, **kw: Any) -> dict[str, Any]:
        return event("coupon.claimed", at=NOW - timedelta(minutes=minutes_ago), user=user, **kw)

    runtime.ingest.ingest([claim(120, "u-old", device="dev-a"), claim(30, "u-new", device="dev-b")])
    first = decide(client, claim(0, "u-old", device="dev-c"), "coupon_claim").json()
    assert [r["rule_id"] for r in first["reasons"]] == ["claimed_never_redeemed"]
    assert first["reasons"][0]["values"]["last.user.coupon_claims"] == 7200
    second = decide(client, claim(0, "u-new", device="dev-b"), "coupon_claim").json()
    # u-new's claim is only 30 minutes old (not yet "not followed"); dev-b claimed 30 min ago
    assert [r["rule_id"] for r in second["reasons"]] == []
    far = claim(0, "u-far", device="dev-b")
    far["device"]["lat"], far["device"]["lon"] = -6.2088, 106.8456  # Jakarta: ~900 km
    third = decide(client, far, "coupon_claim").json()
    assert sorted(r["rule_id"] for r in third["reasons"]) == ["far_from_home", "fast_again"]
