"""POST /v1/events and GET /v1/events/{id} on the embedded default (SQLite + in-process state):
exactly-once ingest, per-item batch results, and a clear 4xx for every kind of bad input."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from riskops.api.app import create_app
from riskops.services.runtime import Runtime, build_runtime
from tests.factories import NOW, event, iso
from tests.integration.testclient import TestClient


@dataclass
class Api:
    client: TestClient
    runtime: Runtime

    def post(self, body: object) -> Any:
        return self.client.post("/v1/events", json=body)

    def post_raw(self, content: bytes | Iterator[bytes]) -> Any:
        return self.client.post(
            "/v1/events", content=content, headers={"content-type": "application/json"}
        )

    def logged(self) -> int:
        """Events in the log (the system of record)."""
        with self.runtime.store.begin() as uow:
            return uow.events.count()

    def count(self, entity_type: str, entity_id: str, metric: str, window: str = "1h") -> int:
        response = self.client.get(
            f"/v1/entities/{entity_type}/{quote(entity_id, safe='')}", params={"windows": window}
        )
        assert response.status_code == 200, response.text
        counters = response.json()["counters"]
        if metric not in counters:
            return 0
        return int(counters[metric]["windows"][window]["count"])


@pytest.fixture
def open_api(settings_factory: Callable[..., Any]) -> Iterator[Callable[..., Api]]:
    """Opens an app (lifespan running) on SQLite with the clock fixed at NOW, and a key with the
    ingest and read scopes; ``overrides`` go to the settings."""
    with ExitStack() as stack:

        def open_(**overrides: Any) -> Api:
            runtime = build_runtime(settings_factory(**overrides), clock=lambda: NOW)
            token = runtime.keys.create("tests", ["ingest", "read"]).token
            app = create_app(runtime=runtime)
            # a 500 is an answer to assert on (JSON body), not an exception in the test
            client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            client.headers["Authorization"] = f"Bearer {token}"
            return Api(client, runtime)

        yield open_


@pytest.fixture
def api(open_api: Callable[..., Api]) -> Api:
    return open_api()


def _events_total(api: Api) -> dict[str, float]:
    text = api.client.get("/metrics").text
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "riskops_events":
            for sample in family.samples:
                if sample.name == "riskops_events_total":
                    totals[sample.labels["status"]] = sample.value
    return totals


# --- one event ------------------------------------------------------------------------------


def test_one_event_is_accepted_with_its_seq_and_stored_as_sent(api: Api) -> None:
    sent = event(at=NOW - timedelta(minutes=5), event_id="evt-one")

    response = api.post(sent)

    assert response.status_code == 201
    assert response.json() == {"event_id": "evt-one", "seq": 1, "duplicate": False}
    stored = api.client.get("/v1/events/evt-one").json()
    assert stored["seq"] == 1
    assert stored["occurred_at"] == iso(NOW - timedelta(minutes=5))
    assert stored["received_at"] == iso(NOW)
    assert stored["payload"]["order_id"] == sent["payload"]["order_id"]
    assert stored["payload"]["amount"] == 100.0  # filled in from the items
    assert stored["device"] == {"fingerprint": "dev-1", "fingerprint_source": "client"}


def test_a_resent_event_is_a_duplicate_applied_once(api: Api) -> None:
    sent = event(event_id="evt-twice")
    first = api.post(sent)

    second = api.post(sent)

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json() == {"event_id": "evt-twice", "seq": 1, "duplicate": True}
    assert api.logged() == 1
    assert api.count("user", "u-1", "order_placed") == 1
    assert api.count("device", "dev-1", "events") == 1


def test_a_duplicate_with_another_body_keeps_the_first_one(api: Api) -> None:
    original = event(event_id="evt-same-id")
    changed = copy.deepcopy(original)
    changed["payload"]["items"][0]["price"] = 9999.0

    api.post(original)
    response = api.post(changed)

    assert response.status_code == 200
    assert response.json()["duplicate"] is True
    assert api.client.get("/v1/events/evt-same-id").json()["payload"]["amount"] == 100.0


def test_unknown_payload_fields_are_kept_in_extensions(api: Api) -> None:
    sent = event(event_id="evt-ext")
    sent["payload"]["gift_wrap"] = True
    sent["payload"]["loyalty"] = {"tier": "gold", "points": 120}
    sent["device"]["battery_level"] = 0.4  # the device keeps unknown attributes too

    response = api.post(sent)

    assert response.status_code == 201
    stored = api.client.get("/v1/events/evt-ext").json()
    assert stored["extensions"] == {"gift_wrap": True, "loyalty": {"tier": "gold", "points": 120}}
    assert "gift_wrap" not in stored["payload"]
    assert stored["device"]["battery_level"] == 0.4


def test_an_event_id_with_a_slash_can_be_read_back(api: Api) -> None:
    api.post(event(event_id="shop/order 42?#"))

    response = api.client.get("/v1/events/" + quote("shop/order 42?#", safe=""))

    assert response.status_code == 200
    assert response.json()["event_id"] == "shop/order 42?#"


def test_an_unknown_event_id_is_404(api: Api) -> None:
    response = api.client.get("/v1/events/never-sent")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_concurrent_resends_of_one_event_store_it_once(api: Api) -> None:
    sent = event(event_id="evt-race")

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda _: api.post(sent), range(24)))

    assert sorted(r.status_code for r in responses) == [200] * 23 + [201]
    assert {r.json()["seq"] for r in responses} == {1}
    assert api.logged() == 1
    assert api.count("user", "u-1", "order_placed") == 1


def test_concurrent_distinct_events_get_distinct_gapless_seqs(api: Api) -> None:
    sent = [event(event_id=f"evt-par-{i}", user=f"u-par-{i % 3}") for i in range(30)]

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(api.post, sent))

    assert all(r.status_code == 201 for r in responses)
    assert sorted(r.json()["seq"] for r in responses) == list(range(1, 31))
    assert sum(api.count("user", f"u-par-{i}", "order_placed") for i in range(3)) == 30


@pytest.mark.parametrize(
    ("price", "qty", "field"),
    [
        pytest.param(1e308, 10, "payload.items.0.price", id="price-overflows"),
        pytest.param(1e15, 100_000, "payload.items", id="total-over-limit"),
    ],
)
def test_an_order_total_that_overflows_is_rejected_and_ingest_goes_on(
    api: Api, price: float, qty: int, field: str
) -> None:
    huge = event(event_id="evt-huge")
    huge["payload"]["items"][0].update(price=price, qty=qty)

    response = api.post(huge)
    after = api.post(event(event_id="evt-next"))

    assert response.status_code == 422, response.text
    assert response.json()["error"]["problems"][0]["field"] == field
    assert after.status_code == 201, after.text
    assert api.logged() == 1


# --- batches --------------------------------------------------------------------------------


def test_a_batch_gets_one_result_per_item_in_order(api: Api) -> None:
    api.post(event(event_id="evt-old"))
    no_market = event(event_id="evt-no-market")
    del no_market["market"]
    batch: list[object] = [
        event(event_id="evt-b1"),
        no_market,
        event(event_id="evt-old"),
        7,
        event("login.failed", event_id="evt-b2"),
        event(event_id="evt-b1"),  # the same id twice in one batch
    ]

    response = api.post(batch)

    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 2, 2)
    assert body["results"] == [
        {"index": 0, "status": "accepted", "event_id": "evt-b1", "seq": 2},
        {
            "index": 1,
            "status": "rejected",
            "event_id": "evt-no-market",
            "problems": [{"field": "market", "reason": "is required"}],
        },
        {"index": 2, "status": "duplicate", "event_id": "evt-old", "seq": 1},
        {
            "index": 3,
            "status": "rejected",
            "problems": [{"field": "body", "reason": "an event must be a JSON object, not int"}],
        },
        {"index": 4, "status": "accepted", "event_id": "evt-b2", "seq": 3},
        {"index": 5, "status": "duplicate", "event_id": "evt-b1", "seq": 2},
    ]
    assert api.client.get("/v1/events/evt-no-market").status_code == 404


def test_resending_a_partly_bad_batch_stores_nothing_twice(api: Api) -> None:
    bad_time = event(event_id="evt-bad-time")
    bad_time["occurred_at"] = "2026-11-27T11:00:00"
    batch = [
        event(event_id="evt-g1", at=NOW - timedelta(minutes=3)),
        bad_time,
        event(event_id="evt-g2", at=NOW - timedelta(minutes=2)),
        event("coupon.claimed", event_id="evt-g3"),
        {"type": "order.placed"},
    ]
    before = _events_total(api)

    first = api.post(batch).json()
    counts_after_first = (
        api.count("user", "u-1", "order_placed"),
        api.count("user", "u-1", "events"),
        api.count("coupon", "NEW10", "coupon_claimed"),
    )
    again = api.post(batch).json()

    assert (first["accepted"], first["duplicates"], first["rejected"]) == (3, 0, 2)
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 3, 2)
    assert [r["seq"] for r in again["results"] if r["status"] == "duplicate"] == [
        r["seq"] for r in first["results"] if r["status"] == "accepted"
    ]
    assert counts_after_first == (2, 3, 1)
    assert (
        api.count("user", "u-1", "order_placed"),
        api.count("user", "u-1", "events"),
        api.count("coupon", "NEW10", "coupon_claimed"),
    ) == counts_after_first
    assert api.logged() == 3
    after = _events_total(api)
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    assert delta == {"accepted": 3.0, "duplicate": 3.0, "rejected": 4.0}


def test_a_batch_of_exactly_the_limit_is_accepted(open_api: Callable[..., Api]) -> None:
    api = open_api(max_batch=3)

    response = api.post([event() for _ in range(3)])

    assert response.status_code == 200
    assert response.json()["accepted"] == 3


# --- bad input ------------------------------------------------------------------------------


def _changed(path: str, value: Any, **kwargs: Any) -> dict[str, Any]:
    """A valid event with one field (dotted path) set; ``...`` as value removes it."""
    body = event(event_id="evt-bad", **kwargs)
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return body


def _json(body: object) -> bytes:
    return orjson.dumps(body)


BAD_INPUT = [
    # unreadable bodies: 400
    pytest.param(
        b'{"event_id": "e-1", ', 400, "bad_request", "body", "line 1", id="malformed-json",
    ),
    pytest.param(
        b'{"event_id": "caf\xe9"}', 400, "bad_request", "body", "UTF-8 byte at offset 17",
        id="invalid-utf8",
    ),
    pytest.param(b"", 400, "bad_request", "body", "expected a JSON object", id="empty-body"),
    pytest.param(b"  \n ", 400, "bad_request", "body", "expected a JSON object", id="blank-body"),
    pytest.param(b"[]", 400, "bad_request", "body", "at least 1 event", id="empty-batch"),
    # not an event: 422
    pytest.param(b'"hello"', 422, "validation_failed", "body", "not str", id="json-string"),
    pytest.param(b"null", 422, "validation_failed", "body", "must be a JSON object", id="null"),
    # missing required fields
    pytest.param(
        _json(_changed("event_id", ...)), 422, "validation_failed", "event_id", "is required",
        id="missing-event-id",
    ),
    pytest.param(
        _json(_changed("occurred_at", ...)), 422, "validation_failed", "occurred_at",
        "is required", id="missing-occurred-at",
    ),
    pytest.param(
        _json(_changed("type", ...)), 422, "validation_failed", "type", "is required",
        id="missing-type",
    ),
    pytest.param(
        _json(_changed("payload.order_id", ...)), 422, "validation_failed", "payload.order_id",
        "is required", id="missing-payload-field",
    ),
    pytest.param(
        _json(_changed("payload.items.0.sku", ...)), 422, "validation_failed",
        "payload.items.0.sku", "is required", id="missing-nested-field",
    ),
    # wrong types and values
    pytest.param(
        _json(_changed("payload.items.0.price", "cheap")), 422, "validation_failed",
        "payload.items.0.price", "valid number", id="price-not-a-number",
    ),
    pytest.param(
        _json(_changed("payload.items.0.qty", 0)), 422, "validation_failed",
        "payload.items.0.qty", "greater than or equal to 1", id="qty-zero",
    ),
    pytest.param(
        _json(_changed("payload.items", [])), 422, "validation_failed", "payload.items",
        "at least 1 item", id="no-items",
    ),
    pytest.param(
        _json(_changed("user_id", 42)), 422, "validation_failed", "user_id", "valid string",
        id="user-id-not-a-string",
    ),
    pytest.param(
        _json(_changed("payload", ["o-1"])), 422, "validation_failed", "payload",
        "valid dictionary", id="payload-not-an-object",
    ),
    pytest.param(
        _json(_changed("payload.currency", "rupiah")), 422, "validation_failed",
        "payload.currency", "3-letter ISO 4217", id="bad-currency",
    ),
    pytest.param(
        _json(_changed("payload.payment_method", "barter")), 422, "validation_failed",
        "payload.payment_method", "'card'", id="unknown-payment-method",
    ),
    pytest.param(
        _json(_changed("market", "Indonesia")), 422, "validation_failed", "market",
        "2-letter ISO 3166-1", id="bad-market",
    ),
    pytest.param(
        _json(_changed("ip", "999.1.1.1")), 422, "validation_failed", "ip",
        "not a valid IPv4 or IPv6", id="bad-ip",
    ),
    pytest.param(
        _json(_changed("schema_version", 9)), 422, "validation_failed", "schema_version",
        "has no version 9", id="unknown-schema-version",
    ),
    pytest.param(
        _json(_changed("type", "order.teleported")), 422, "validation_failed", "type",
        "unknown event type 'order.teleported'", id="unknown-event-type",
    ),
    # unknown fields: rejected in the envelope and in nested objects (the payload keeps them)
    pytest.param(
        _json(_changed("colour", "red")), 422, "validation_failed", "colour",
        "is not a known field", id="unknown-envelope-field",
    ),
    pytest.param(
        _json(_changed("payload.shipping_address.floor", "3")), 422, "validation_failed",
        "payload.shipping_address.floor", "is not a known field", id="unknown-address-field",
    ),
    pytest.param(
        _json(_changed("received_at", iso(NOW))), 422, "validation_failed", "received_at",
        "is set by the server", id="server-field-sent",
    ),
    # timestamps
    pytest.param(
        _json(_changed("occurred_at", "2026-11-27T11:00:00")), 422, "validation_failed",
        "occurred_at", "must carry a time zone", id="timestamp-without-zone",
    ),
    pytest.param(
        _json(_changed("occurred_at", "yesterday")), 422, "validation_failed", "occurred_at",
        "datetime", id="timestamp-not-a-date",
    ),
    pytest.param(
        _json(_changed("occurred_at", iso(NOW + timedelta(hours=1)))), 422,
        "validation_failed", "occurred_at", "3600 s in the future", id="timestamp-far-future",
    ),
    pytest.param(
        _json(_changed("occurred_at", iso(NOW - timedelta(days=11_000)))), 422,
        "validation_failed", "occurred_at", "older than 10950 days", id="timestamp-too-old",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "code", "field", "reason"), BAD_INPUT)
def test_bad_input_gets_a_clear_error_naming_field_and_reason(
    api: Api, body: bytes, status: int, code: str, field: str, reason: str
) -> None:
    response = api.post_raw(body)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert all(set(p) == {"field", "reason"} for p in error["problems"])
    matching = [p for p in error["problems"] if p["field"] == field]
    assert matching, error["problems"]
    assert reason in matching[0]["reason"]
    assert api.logged() == 0


def test_a_rejected_event_names_its_event_id(api: Api) -> None:
    response = api.post(_changed("occurred_at", "2026-11-27T11:00:00"))

    assert response.json()["error"]["event_id"] == "evt-bad"
    assert api.client.get("/v1/events/evt-bad").status_code == 404


def _chunks(total: int, size: int = 512) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b" " * min(size, total - start)


TOO_LARGE = [
    pytest.param(
        {"max_body_bytes": 2048},
        lambda: _json([event() for _ in range(20)]),
        "over the limit of 2048 bytes",
        id="declared-length-over-limit",
    ),
    pytest.param(
        {"max_body_bytes": 2048},
        lambda: _chunks(5000),  # chunked: no content-length, counted while reading
        "over the limit of 2048 bytes",
        id="streamed-body-over-limit",
    ),
    pytest.param(
        {"max_batch": 3},
        lambda: _json([event() for _ in range(4)]),
        "batch of 4 events is over the limit of 3",
        id="batch-over-limit",
    ),
]


@pytest.mark.parametrize(("overrides", "make_body", "message"), TOO_LARGE)
def test_too_large_is_413_and_stores_nothing(
    open_api: Callable[..., Api],
    overrides: dict[str, int],
    make_body: Callable[[], bytes | Iterator[bytes]],
    message: str,
) -> None:
    api = open_api(**overrides)

    response = api.post_raw(make_body())

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert message in error["message"]
    assert [p["field"] for p in error["problems"]] == ["body"]
    assert api.logged() == 0
