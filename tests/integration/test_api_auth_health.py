"""API keys and scopes on every protected route; the routes that answer without a key
(health, readiness, metrics, schema, OpenAPI docs)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from riskops.api.app import create_app
from riskops.core.events import CATALOGUE
from riskops.services.runtime import Runtime, build_runtime
from tests.factories import NOW, event
from tests.integration.testclient import TestClient


@dataclass
class Keys:
    admin: str
    ingest: str
    read: str
    decide: str
    revoked: str


@dataclass
class Server:
    client: TestClient
    runtime: Runtime
    keys: Keys


@pytest.fixture
def server(settings_factory: Any) -> Iterator[Server]:
    runtime = build_runtime(settings_factory(state_poll_s=3600), clock=lambda: NOW)
    created = {scope: runtime.keys.create(f"{scope} key", [scope]) for scope in
               ("admin", "ingest", "read", "decide")}  # fmt: skip
    revoked = runtime.keys.create("old key", ["admin"])
    runtime.keys.revoke(revoked.key_id)
    keys = Keys(**{scope: c.token for scope, c in created.items()}, revoked=revoked.token)
    with TestClient(create_app(runtime=runtime)) as client:
        seeded = client.post(
            "/v1/events",
            json=event(event_id="evt-seed", user="u-1"),
            headers={"Authorization": f"Bearer {keys.admin}"},
        )
        assert seeded.status_code == 201
        yield Server(client, runtime, keys)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ROUTES = [
    pytest.param("POST", "/v1/events", "ingest", id="post-events"),
    pytest.param("GET", "/v1/events/evt-seed", "read", id="get-event"),
    pytest.param("GET", "/v1/entities/user/u-1", "read", id="get-entity"),
    pytest.param("GET", "/v1/entities/user/u-1/graph", "read", id="get-graph"),
]

CREDENTIALS = [
    pytest.param(lambda k: {}, 401, "an API key is required", id="no-key"),
    pytest.param(lambda k: {"Authorization": "Basic dXNlcjpwdw=="}, 401, "required", id="basic"),
    pytest.param(lambda k: _bearer("not-a-key"), 401, "malformed API key", id="malformed"),
    pytest.param(
        lambda k: _bearer(k.admin.rsplit("_", 1)[0] + "_" + "x" * 43), 401, "unknown API key",
        id="wrong-secret",
    ),
    pytest.param(lambda k: _bearer("rko_000000000000_" + "x" * 43), 401, "unknown API key",
                 id="unknown-key-id"),
    pytest.param(lambda k: _bearer(k.revoked), 401, "revoked", id="revoked"),
    pytest.param(lambda k: _bearer(k.decide), 403, "lacks the", id="other-scope"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
@pytest.mark.parametrize(("headers", "status", "message"), CREDENTIALS)
def test_protected_routes_refuse_missing_unknown_or_unscoped_keys(
    server: Server, method: str, path: str, scope: str, headers: Any, status: int, message: str
) -> None:
    body = event() if method == "POST" else None

    response = server.client.request(method, path, json=body, headers=headers(server.keys))

    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == {401: "unauthorized", 403: "forbidden"}[status]
    assert message in error["message"]
    if status == 403:
        assert f"'{scope}'" in error["message"]
    with server.runtime.store.begin() as uow:
        assert uow.events.count() == 1  # only the seeded event: nothing was let in


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
@pytest.mark.parametrize(
    "header",
    [
        pytest.param(lambda token: {"Authorization": f"Bearer {token}"}, id="bearer"),
        pytest.param(lambda token: {"authorization": f"bearer  {token} "}, id="bearer-lower"),
        pytest.param(lambda token: {"X-API-Key": token}, id="x-api-key"),
    ],
)
def test_a_key_with_the_scope_or_admin_is_let_through(
    server: Server, method: str, path: str, scope: str, header: Any
) -> None:
    body = event(event_id="evt-seed") if method == "POST" else None  # a duplicate: nothing new

    for token in (getattr(server.keys, scope), server.keys.admin):
        response = server.client.request(method, path, json=body, headers=header(token))
        assert response.status_code == 200, response.text


def test_keys_are_stored_hashed(server: Server, settings_factory: Any) -> None:
    created = server.runtime.keys.create("ci", ["read"])
    secret = created.token.split("_", 2)[2]

    (row,) = [r for r in server.runtime.keys.list() if r.key_id == created.key_id]

    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.scopes == ("read",)
    data_dir = settings_factory().data_dir
    stored = b"".join(p.read_bytes() for p in data_dir.glob("riskops.db*"))
    assert created.key_id.encode() in stored
    assert secret.encode() not in stored


def test_a_revoked_key_stops_working_at_once(server: Server) -> None:
    created = server.runtime.keys.create("leaked", ["read"])
    assert server.client.get("/v1/events/evt-seed", headers=_bearer(created.token)).is_success

    server.runtime.keys.revoke(created.key_id)

    response = server.client.get("/v1/events/evt-seed", headers=_bearer(created.token))
    assert response.status_code == 401


# --- open routes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        pytest.param("/healthz", "application/json", id="healthz"),
        pytest.param("/readyz", "application/json", id="readyz"),
        pytest.param("/metrics", "text/plain", id="metrics"),
        pytest.param("/v1/schema", "application/json", id="schema"),
        pytest.param("/openapi.json", "application/json", id="openapi"),
        pytest.param("/docs", "text/html", id="docs"),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [pytest.param({}, id="no-key"), pytest.param(_bearer("garbage"), id="bad-key")],
)
def test_open_routes_answer_without_a_key(
    server: Server, path: str, content_type: str, headers: dict[str, str]
) -> None:
    response = server.client.get(path, headers=headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)


def test_healthz_says_ok(server: Server) -> None:
    assert server.client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_the_state_lag_behind_other_writers(
    server: Server, settings_factory: Any
) -> None:
    ready = server.client.get("/readyz").json()
    # another writer (e.g. `riskops ingest`) appends to the same log; this server's state has
    # not polled it yet (state_poll_s is an hour here)
    other = build_runtime(settings_factory(), clock=lambda: NOW, with_state=False)
    try:
        other.ingest.ingest([event(event_id="evt-other")])
    finally:
        other.close()

    lagging = server.client.get("/readyz")

    assert ready == {"status": "ready", "checks": {"database": "ok", "state_lag_events": "0"}}
    assert lagging.status_code == 200
    assert lagging.json()["checks"]["state_lag_events"] == "1"


def test_metrics_count_events_and_time_requests_by_route_template(server: Server) -> None:
    server.client.post("/v1/events", json=[event(), {"bad": 1}], headers=_bearer(server.keys.admin))
    server.client.get("/v1/entities/user/u-secret-1", headers=_bearer(server.keys.admin))

    families = {
        f.name: f for f in text_string_to_metric_families(server.client.get("/metrics").text)
    }

    assert {"riskops_events", "riskops_http_request_seconds", "riskops_state_lag_events"} <= set(
        families
    )
    events = {
        s.labels["status"]: s.value
        for s in families["riskops_events"].samples
        if s.name == "riskops_events_total"
    }
    assert events["accepted"] >= 2
    assert events["rejected"] >= 1
    routes = {s.labels["route"] for s in families["riskops_http_request_seconds"].samples}
    assert "/v1/events" in routes
    assert not any("u-secret-1" in route for route in routes)  # templates, not raw ids


def test_schema_lists_every_event_type(server: Server) -> None:
    schema = server.client.get("/v1/schema").json()

    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["properties"]["type"]["enum"] == sorted(CATALOGUE)
    assert {f"payload.{name}" for name in CATALOGUE} <= set(schema["$defs"])
    assert set(schema["required"]) >= {"event_id", "type", "occurred_at", "market"}


def test_openapi_documents_the_routes(server: Server) -> None:
    spec = server.client.get("/openapi.json").json()

    assert spec["info"]["title"] == "riskops"
    assert {
        "/v1/events",
        "/v1/events/{event_id}",
        "/v1/entities/{entity_type}/{entity_id}",
        "/v1/entities/{entity_type}/{entity_id}/graph",
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/schema",
    } <= set(spec["paths"])
    post = spec["paths"]["/v1/events"]["post"]
    assert "example" in post["requestBody"]["content"]["application/json"]
    assert {"201", "413", "422"} <= set(post["responses"])
    assert "swagger" in server.client.get("/docs").text.lower()


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        pytest.param("GET", "/v2/nothing", 404, "not_found", id="unknown-route"),
        pytest.param("DELETE", "/v1/events", 405, "method_not_allowed", id="wrong-method"),
    ],
)
def test_routing_errors_are_json_too(
    server: Server, method: str, path: str, status: int, code: str
) -> None:
    response = server.client.request(method, path, headers=_bearer(server.keys.admin))

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
