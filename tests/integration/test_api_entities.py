"""GET /v1/entities/{type}/{id} and /graph on the embedded default: profiles, windows at any
``as_of`` (late and out-of-order events land in their own windows), lookups by raw value."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest

from riskops.api.app import create_app
from riskops.core.events.envelope import to_us
from riskops.services.runtime import Runtime, build_runtime
from riskops.stores.base import ListEntry
from tests.factories import NOW, event, iso
from tests.integration.testclient import TestClient


@pytest.fixture
def runtime(settings_factory: Any) -> Runtime:
    return build_runtime(settings_factory(), clock=lambda: NOW)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    token = runtime.keys.create("tests", ["ingest", "read"]).token
    with TestClient(create_app(runtime=runtime)) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def send(client: TestClient, *events: dict[str, Any]) -> None:
    response = client.post("/v1/events", json=list(events))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(events), response.json()


def profile(client: TestClient, entity_type: str, raw_id: str, **params: str) -> dict[str, Any]:
    response = client.get(f"/v1/entities/{entity_type}/{quote(raw_id, safe='')}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def window_counts(body: dict[str, Any], metric: str) -> dict[str, int]:
    return {w: s["count"] for w, s in body["counters"][metric]["windows"].items()}


def order(amount: float, *, at: Any, **kwargs: Any) -> dict[str, Any]:
    body = event(at=at, **kwargs)
    body["payload"]["items"][0].update(price=amount, qty=1)
    return body


# --- what a profile holds --------------------------------------------------------------------


def test_user_profile_has_seen_times_counters_and_links(client: TestClient) -> None:
    send(
        client,
        order(10, at=NOW - timedelta(minutes=30), event_id="o-a"),
        order(25, at=NOW - timedelta(minutes=10), event_id="o-b", device="dev-2"),
        event("login.failed", at=NOW - timedelta(minutes=5)),
    )

    body = profile(client, "user", "u-1", windows="15m,1h")

    assert body["type"] == "user"
    assert body["id"] == "u-1"
    assert body["first_seen"] == iso(NOW - timedelta(minutes=30))
    assert body["last_seen"] == iso(NOW - timedelta(minutes=5))
    assert body["events"] == 3
    assert body["as_of"] == iso(NOW)
    assert body["counters"]["order_placed"] == {
        "last_seen": iso(NOW - timedelta(minutes=10)),
        "windows": {
            "15m": {"count": 1, "sum": 25.0, "min": 25.0, "max": 25.0},
            "1h": {"count": 2, "sum": 35.0, "min": 10.0, "max": 25.0},
        },
    }
    assert window_counts(body, "events") == {"15m": 2, "1h": 3}
    assert body["counters"]["devices"]["windows"]["1h"] == {"count": 3, "distinct": 2}
    links = {(link["type"], link["id"]): link for link in body["links"]}
    assert links[("device", "dev-1")]["count"] == 2
    assert links[("device", "dev-2")]["count"] == 1
    assert links[("device", "dev-2")]["direction"] == "out"
    assert {"ip", "ip24", "address", "instrument", "merchant"} <= {t for t, _ in links}
    assert body["lists"] == []
    assert "users_sharing" not in body  # a user is not shared by users


def test_shared_entities_count_the_users_sharing_them(client: TestClient) -> None:
    send(
        client,
        event("login.succeeded", user="u-1", at=NOW - timedelta(minutes=1)),
        event("login.succeeded", user="u-2", at=NOW - timedelta(hours=2)),
        event("login.succeeded", user="u-3", at=NOW - timedelta(days=40)),
    )

    device = profile(client, "device", "dev-1")

    assert device["users_sharing"] == {"24h": 2, "30d": 2, "90d": 3}
    assert device["counters"]["users"]["windows"]["90d"]["distinct"] == 3
    users = {link["id"] for link in device["links"] if link["type"] == "user"}
    assert users == {"u-1", "u-2", "u-3"}
    assert all(link["direction"] == "in" for link in device["links"] if link["type"] == "user")


def test_list_memberships_are_shown_while_they_last(client: TestClient, runtime: Runtime) -> None:
    send(client, event("login.succeeded"))
    with runtime.store.begin(write=True) as uow:
        for name, kind, expires in (("chargeback-ring", "block", None), ("review", "watch", 1)):
            uow.lists.put(
                ListEntry(
                    name,
                    "device",
                    "dev-1",
                    kind,
                    f"{name} reason",
                    "manual",
                    to_us(NOW - timedelta(days=1)),
                    to_us(NOW - timedelta(hours=expires)) if expires else None,
                )
            )
        uow.commit()

    now = profile(client, "device", "dev-1")
    earlier = profile(client, "device", "dev-1", as_of=iso(NOW - timedelta(hours=2)))

    assert now["lists"] == [
        {
            "list": "chargeback-ring",
            "kind": "block",
            "reason": "chargeback-ring reason",
            "source": "manual",
            "since": iso(NOW - timedelta(days=1)),
            "expires": None,
        }
    ]
    assert [entry["list"] for entry in earlier["lists"]] == ["chargeback-ring", "review"]


# --- late and out-of-order events ------------------------------------------------------------


def test_late_and_out_of_order_events_land_in_their_windows(client: TestClient) -> None:
    send(client, order(10, at=NOW - timedelta(minutes=1), event_id="o-now"))
    send(client, order(40, at=NOW - timedelta(days=2), event_id="o-2d"))
    send(client, order(20, at=NOW - timedelta(minutes=150), event_id="o-late"))

    now = profile(client, "user", "u-1", windows="1h,24h,7d")
    two_hours_ago = profile(
        client, "user", "u-1", windows="1h,24h,7d", as_of=iso(NOW - timedelta(hours=2))
    )

    assert window_counts(now, "order_placed") == {"1h": 1, "24h": 2, "7d": 3}
    assert now["counters"]["order_placed"]["windows"]["24h"]["sum"] == 30.0
    assert window_counts(two_hours_ago, "order_placed") == {"1h": 1, "24h": 1, "7d": 2}
    assert two_hours_ago["counters"]["order_placed"]["windows"]["1h"]["sum"] == 20.0
    assert two_hours_ago["as_of"] == iso(NOW - timedelta(hours=2))
    assert now["first_seen"] == iso(NOW - timedelta(days=2))
    assert now["last_seen"] == iso(NOW - timedelta(minutes=1))


def test_an_event_older_than_every_window_moves_first_seen_only(client: TestClient) -> None:
    send(client, order(10, at=NOW - timedelta(minutes=1)))
    send(client, order(99, at=NOW - timedelta(days=100)))

    body = profile(client, "user", "u-1", windows="90d")

    assert body["first_seen"] == iso(NOW - timedelta(days=100))
    assert body["events"] == 2
    assert window_counts(body, "order_placed") == {"90d": 1}


def test_windows_default_to_the_standard_set(client: TestClient) -> None:
    send(client, event("login.failed"))

    body = profile(client, "user", "u-1")

    assert list(body["counters"]["login_failed"]["windows"]) == [
        "1m",
        "5m",
        "1h",
        "24h",
        "7d",
        "30d",
        "90d",
    ]


# --- lookups by raw value ---------------------------------------------------------------------


def _linked_id(client: TestClient, entity_type: str) -> str:
    links = profile(client, "user", "u-1")["links"]
    (found,) = [link["id"] for link in links if link["type"] == entity_type]
    return str(found)


@pytest.mark.parametrize(
    ("entity_type", "raw", "expected"),
    [
        pytest.param("email", "a.b@gmail.com", "em_", id="email-gmail-dots-and-tag"),
        pytest.param("email", " AB+other@GoogleMail.com ", "em_", id="email-case-and-domain"),
        pytest.param("phone", "+62 812-3456-7890", "ph_", id="phone-international"),
        pytest.param("phone", "0062 (812) 3456 7890", "ph_", id="phone-00-prefix"),
        pytest.param("instrument", "tok-1", "pi_", id="instrument-token"),
        pytest.param("ip", "::ffff:203.0.113.7", "203.0.113.7", id="ip-v4-mapped"),
        pytest.param("ip24", "203.0.113.99", "203.0.113.0/24", id="ip24-from-an-ip"),
    ],
)
def test_lookup_by_raw_value_finds_the_normalised_entity(
    client: TestClient, entity_type: str, raw: str, expected: str
) -> None:
    send(
        client,
        event("user.registered"),  # email A.B+x@gmail.com, phone 0812-3456-7890, market ID
        event("order.placed"),  # instrument tok-1, ip 203.0.113.7
    )

    body = profile(client, entity_type, raw)

    assert body["id"].startswith(expected)
    assert body["id"] == _linked_id(client, entity_type)
    assert body["users_sharing"]["24h"] == 1


def test_address_lookup_by_hashed_id_and_by_free_text(client: TestClient) -> None:
    sent = event()
    sent["payload"]["shipping_address"] = {"line1": "12 Main Street", "city": "Jakarta"}
    send(client, sent)
    address_id = _linked_id(client, "address")

    by_id = profile(client, "address", address_id)
    by_text = profile(client, "address", "12 Main St., JAKARTA")

    assert by_id["id"] == by_text["id"] == address_id
    assert window_counts(by_text, "order_placed")["24h"] == 1


@pytest.mark.parametrize(
    ("address", "typed"),
    [
        pytest.param(
            {"line1": "12 Main Street", "city": "Jakarta", "country": "ID"},
            "12 Main St., Jakarta, ID",
            id="abbreviated-street-and-country-code",
        ),
        pytest.param(
            {"line1": "12 Main Street", "city": "Jakarta", "country": "ID"},
            "12 MAIN STREET JAKARTA INDONESIA",
            id="upper-case-and-country-name",
        ),
        pytest.param(
            {"line1": "12 Main St.", "city": "Jakarta", "postal_code": "10110", "country": "ID"},
            "12 Main Street, Jakarta 10110 Indonesia",
            id="with-postal-code",
        ),
        pytest.param(
            {"line1": "Jalan Sudirman No. 5", "line2": "Flat 3", "city": "Jakarta"},
            "JLN Sudirman no.5, apartment 3, Jakarta",
            id="local-abbreviations-and-unit",
        ),
    ],
)
def test_address_lookup_by_free_text_finds_the_structured_address(
    client: TestClient, address: dict[str, str], typed: str
) -> None:
    sent = event()
    sent["payload"]["shipping_address"] = address
    send(client, sent)

    body = profile(client, "address", typed)

    assert body["id"] == _linked_id(client, "address")


def test_phone_lookup_by_the_national_number_the_client_sent(client: TestClient) -> None:
    # ingest normalises a national number with the event's market (0812… in ID → +62812…);
    # a lookup names the market to do the same
    send(client, event("user.registered"))  # phone 0812-3456-7890, market ID

    body = profile(client, "phone", "0812-3456-7890", market="ID")

    assert body["id"] == _linked_id(client, "phone")


# --- the neighbourhood ------------------------------------------------------------------------


def test_graph_walks_k_hops_with_limits(client: TestClient) -> None:
    send(
        client,
        event("login.succeeded", user="u-1", device="dev-1", at=NOW - timedelta(minutes=1)),
        event("login.succeeded", user="u-2", device="dev-1", at=NOW - timedelta(hours=2)),
    )

    def graph(**params: Any) -> dict[str, Any]:
        response = client.get("/v1/entities/user/u-1/graph", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    one = graph(k=1)
    two = graph(k=2)
    recent = graph(k=2, within="1h")
    capped = graph(k=2, max_nodes=2)

    assert (one["type"], one["id"], one["k"]) == ("user", "u-1", 1)
    assert {(n["type"], n["id"]) for n in one["nodes"]} == {
        ("device", "dev-1"),
        ("ip", "203.0.113.7"),
        ("ip24", "203.0.113.0/24"),
    }
    assert all(n["depth"] == 1 and n["via"] == {"type": "user", "id": "u-1"} for n in one["nodes"])
    reached = {(n["type"], n["id"]): n for n in two["nodes"]}
    assert reached[("user", "u-2")]["depth"] == 2
    assert reached[("user", "u-2")]["via"]["type"] in {"device", "ip", "ip24"}
    assert ("user", "u-2") not in {(n["type"], n["id"]) for n in recent["nodes"]}
    assert one["truncated"] is False
    assert capped["truncated"] is True
    assert len(capped["nodes"]) == 2


# --- bad requests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "status", "field", "reason"),
    [
        pytest.param(
            "/v1/entities/person/u-1", {}, 422, "type", "must be one of user", id="unknown-type"
        ),
        pytest.param("/v1/entities/user/%20", {}, 422, "id", "must not be empty", id="blank-id"),
        pytest.param(
            "/v1/entities/email/not-an-email", {}, 422, "id", "exactly one '@'", id="bad-email"
        ),
        pytest.param("/v1/entities/ip/1.2.3", {}, 422, "id", "not an IPv4", id="bad-ip"),
        pytest.param(
            "/v1/entities/user/u-1", {"windows": "5s"}, 422, "windows", "", id="window-too-short"
        ),
        pytest.param(
            "/v1/entities/user/u-1", {"windows": "120d"}, 422, "windows", "", id="window-too-long"
        ),
        pytest.param(
            "/v1/entities/user/u-1", {"windows": "1h,soon"}, 422, "windows", "", id="window-garbage"
        ),
        pytest.param(
            "/v1/entities/user/u-1",
            {"as_of": "2026-11-27T10:00:00"},
            422,
            "as_of",
            "must carry a time zone",
            id="as-of-without-zone",
        ),
        pytest.param(
            "/v1/entities/user/u-1", {"as_of": "noon"}, 422, "query.as_of", "", id="as-of-garbage"
        ),
        pytest.param(
            "/v1/entities/user/u-1/graph", {"k": 4}, 422, "query.k", "less than or equal to 3",
            id="graph-k-too-deep",
        ),
        pytest.param(
            "/v1/entities/user/u-1/graph", {"within": "forever"}, 422, "within", "",
            id="graph-within-garbage",
        ),
        pytest.param("/v1/entities/user/u-nobody", {}, 404, None, "", id="unknown-entity"),
        pytest.param(
            "/v1/entities/device/dev-nobody/graph", {}, 404, None, "", id="unknown-graph-root"
        ),
    ],
)  # fmt: skip
def test_bad_entity_requests_name_the_field(
    client: TestClient,
    path: str,
    params: dict[str, Any],
    status: int,
    field: str | None,
    reason: str,
) -> None:
    send(client, event())

    response = client.get(path, params=params)

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    if field is None:
        assert error["code"] == "not_found"
        return
    assert error["code"] == "validation_failed"
    problem = next(p for p in error["problems"] if p["field"] == field)
    assert reason in problem["reason"]
    assert problem["reason"]
