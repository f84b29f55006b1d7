"""The columnar backtest computes each event's features as the decision API would have read
them just before it: on random traffic, every velocity and sharing feature (windows of an hour
and more, where the live buckets and the exact windows see the same events) equals the online
state's answer from a replay of the log in order. And the rules' columns honour lists, allow
lists, shadow rules and the fail mode."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import duckdb
import orjson
import pytest

from riskops.core.decisions.columnar import features_query
from riskops.core.decisions.features import entity_ids, feature_table, state_features
from riskops.core.entities import extract
from riskops.core.entities.extract import metric_name
from riskops.core.events.catalogue import CATALOGUE
from riskops.core.state.buckets import BucketStore
from riskops.services.backtest_load import Request, arrow_tables, load
from riskops.services.runtime import Runtime
from tests.factories import NOW, PAYLOADS, event

SECRET = b"test-secret"
TYPES = ["order.placed", "order.placed", "login.failed", "coupon.claimed", "page.viewed"]
CAMPAIGNS = ["1111", "1212"]
CHECKPOINT_TYPES = frozenset({"order.placed", "coupon.claimed"})


def _traffic(seed: int, n: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.choice(TYPES)
        payload = dict(PAYLOADS[kind])
        if kind == "order.placed":
            payload["order_id"] = f"o-{seed}-{i}"
            payload["payment_instrument"] = f"tok-{rng.randrange(3)}"
            payload["shipping_address"] = {
                "line1": f"{rng.randrange(3)} Main Street",
                "city": "Jakarta",
                "country": "ID",
                "phone": f"0812-3456-78{rng.randrange(2)}0",
            }
        if kind == "coupon.claimed":
            payload["campaign_id"] = rng.choice(CAMPAIGNS)
        out.append(
            event(
                kind,
                at=NOW - timedelta(minutes=40) + timedelta(seconds=7 * i),
                user=rng.choice(["u-1", "u-2", "u-3", "u-4", None]),
                device=rng.choice(["dev-1", "dev-2", "dev-3", None]),
                ip=rng.choice(["203.0.113.7", "203.0.113.9", "198.51.100.1"]),
                payload=payload,
            )
        )
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_columnar_features_equal_the_online_state_read_before_each_event(
    ops_runtime: Runtime, seed: int
) -> None:
    rt = ops_runtime
    traffic = _traffic(seed, 120)
    assert all(r.status == "accepted" for r in rt.ingest.ingest(traffic))
    paths = sorted(p for p, f in feature_table().items() if f[3] >= 3600)
    req = Request(
        types=CHECKPOINT_TYPES,
        event_fields={},
        since_us=None,
        until_us=None,
        history_us=0,
        addresses=True,
        instruments=True,
        phones=True,
    )
    cols = load(rt.store, SECRET, req, None)
    types_of: dict[str, list[str]] = {}
    for t in CATALOGUE:
        types_of.setdefault(metric_name(t), []).append(t)
    with duckdb.connect() as con:
        for name, table in arrow_tables(cols, {}).items():
            con.register(name, table)
        sql = f"SELECT * FROM ({features_query(paths, types_of)}) WHERE seq IN (SELECT seq FROM cp)"  # noqa: S608
        got = {
            row[0]: dict(zip(paths, row[1:], strict=True)) for row in con.execute(sql).fetchall()
        }

    replay = BucketStore()
    expected: dict[int, dict[str, Any]] = {}
    with rt.store.begin() as uow:
        logged = uow.events.read_after(0, 10_000)
    for row in logged:
        record = orjson.loads(row.body)
        x = extract(record, SECRET)
        if record["type"] in CHECKPOINT_TYPES:
            ids = entity_ids(record, x.nodes)
            at = row.occurred_at_us
            expected[row.seq] = state_features(
                paths, ids, lambda t, i, w, m, at=at: replay.windows(t, i, w, at - 1, m), at
            )
        replay.merge(replay.prepare(x.updates))
    assert got.keys() == expected.keys()
    assert len(got) > 20
    assert sum(v or 0 for f in expected.values() for v in f.values()) > 500  # not all empty
    scoped = [v for f in expected.values() for p, v in f.items() if p.startswith("campaign.")]
    assert sum(v or 0 for v in scoped) > 20  # campaign-scoped counts are exercised too
    for seq, features in expected.items():
        assert got[seq] == pytest.approx(features), seq


RULES = """
checkpoint: order
rules:
  - id: blocked_device
    when: in_list("blocked_devices", device.fingerprint)
    outcome: deny
    score: 80
  - id: busy_user
    when: velocity.user.orders_1h >= 1
    outcome: review
    score: 10
    skip_if_allowed: [user]
  - id: watch_big
    state: shadow
    when: event.amount > 10.0
    outcome: deny
  - id: divides
    when: 100 / (velocity.device.orders_1h - velocity.device.orders_1h) > 1
    outcome: challenge
"""


def test_rules_in_columns_honour_lists_allow_lists_shadow_rules_and_errors(
    ops_runtime: Runtime,
) -> None:
    rt = ops_runtime
    orders = [
        event("order.placed", at=NOW - timedelta(minutes=30 - i), user=u, device=d, payload=p)
        for i, (u, d, p) in enumerate(
            [
                ("u-1", "dev-1", {**PAYLOADS["order.placed"], "order_id": "o-1"}),
                ("u-1", "dev-2", {**PAYLOADS["order.placed"], "order_id": "o-2"}),
                ("u-2", "dev-9", {**PAYLOADS["order.placed"], "order_id": "o-3"}),
                ("u-2", "dev-9", {**PAYLOADS["order.placed"], "order_id": "o-4"}),
            ]
        )
    ]
    assert all(r.status == "accepted" for r in rt.ingest.ingest(orders))
    rt.lists.put(
        "blocked_devices", "device", "dev-9", kind="block", reason="r", source="t", actor="a"
    )
    rt.lists.put("vip", "user", "u-1", kind="allow", reason="r", source="t", actor="a")
    report = rt.backtests.run(RULES, against_active=False)
    by_rule = {r["rule"]: r for r in report["rules"]}
    assert by_rule["blocked_device"]["hits"] == 2  # o-3, o-4
    assert by_rule["busy_user"]["hits"] == 1  # o-4 (u-1's o-2 is skipped: u-1 is allow-listed)
    assert by_rule["watch_big"]["hits"] == 4  # shadow rules are counted, never decide
    assert by_rule["divides"]["hits"] == 0
    assert by_rule["divides"]["errors"] == 4
    assert report["candidate"]["outcomes"] == {"allow": 2, "deny": 2}
    # a rule failing at run time makes the outcome at least review where the checkpoint fails
    # closed, as it does live
    version = rt.policy.push("fail_mode: {default: open, order: closed}\n", "a")
    rt.policy.activate(version, "a")
    closed = rt.backtests.run(RULES, against_active=False)
    assert closed["candidate"]["outcomes"] == {"deny": 2, "review": 2}


SHARED = """
checkpoint: order
rules:
  - id: device_of_blocked_accounts
    when: graph.device.blocked_users >= 2
    outcome: deny
    score: 90
"""


def test_shared_device_with_blocked_accounts_live_and_in_the_backtest(
    ops_runtime: Runtime, ops_client: Any
) -> None:
    rt = ops_runtime
    early = [
        event("order.placed", at=NOW - timedelta(minutes=30 - i), user=u, device=d)
        | {"payload": {**PAYLOADS["order.placed"], "order_id": f"o-{i}"}}
        for i, (u, d) in enumerate([("u-1", "dev-1"), ("u-2", "dev-1"), ("u-3", "dev-2")])
    ]
    assert all(r.status == "accepted" for r in rt.ingest.ingest(early))
    for user in ("u-1", "u-2", "u-3"):
        rt.lists.put("fraudsters", "user", user, kind="block", reason="r", source="t", actor="x")
    version = rt.rules.push(SHARED, "a")
    rt.rules.activate("order", version.version, "a")
    on_dev1 = event("order.placed", at=NOW - timedelta(minutes=1), user="u-9", device="dev-1")
    on_dev1["payload"] = {**PAYLOADS["order.placed"], "order_id": "o-9"}
    on_dev3 = event("order.placed", at=NOW - timedelta(minutes=1), user="u-8", device="dev-3")
    on_dev3["payload"] = {**PAYLOADS["order.placed"], "order_id": "o-8"}
    live = [ops_client.post("/v1/decisions/order", json=e).json() for e in (on_dev1, on_dev3)]
    assert [d["outcome"] for d in live] == ["deny", "allow"]
    assert live[0]["reasons"][0]["values"] == {"graph.device.blocked_users": 2}
    report = rt.backtests.run(SHARED, against_active=False)
    # o-0 sees nobody before it, o-1 one blocked account (u-1), o-2 is on dev-2; then o-9 two
    assert report["rules"][0]["hits"] == 1
    assert report["candidate"]["outcomes"] == {"allow": 4, "deny": 1}
