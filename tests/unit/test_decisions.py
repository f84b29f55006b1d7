"""Checkpoint context schemas, features, rulesets from YAML and their evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from riskops.core.decisions.engine import evaluate
from riskops.core.decisions.features import event_fields, state_features
from riskops.core.decisions.ruleset import InvalidRuleset, load_ruleset
from riskops.core.decisions.schema import CHECKPOINTS, context_schema
from riskops.core.state.buckets import BucketStore
from riskops.core.state.model import StateUpdate

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rules_order.yaml"
S = 1_000_000
NOW = 20_000 * 86_400 * S


def test_every_checkpoint_has_a_schema_with_its_event_fields() -> None:
    assert set(CHECKPOINTS) == {
        "login",
        "registration",
        "coupon_claim",
        "order",
        "payment_method",
        "refund_request",
        "listing",
    }
    order = context_schema("order")
    assert order["event.amount"] == "double"
    assert order["event.payment_method"] == "string"
    assert order["event.coupon_codes"] == "list<string>"
    assert order["event.items_count"] == "int"
    assert order["event.shipping_address.country"] == "string"
    assert order["velocity.user.orders_1h"] == "int"
    assert order["velocity.device.order_amount_24h"] == "double"
    assert order["graph.device.distinct_users_30d"] == "int"
    assert "event.coupon_code" in context_schema("coupon_claim")
    assert "event.amount" not in context_schema("login")


def test_event_fields_of_a_record() -> None:
    record = {
        "type": "order.placed",
        "market": "ID",
        "user_id": "u1",
        "device": {"fingerprint": "fp1"},
        "ip": "10.0.0.1",
        "payload": {
            "amount": 120.0,
            "items": [{"sku": "a"}, {"sku": "b"}],
            "coupon_codes": ["NEW10"],
            "shipping_address": {"country": "ID", "city": "Jakarta"},
        },
    }
    at_us = 1_795_820_400_000_000  # 2026-11-27T23:00:00Z
    fields = event_fields(record, at_us)
    assert fields["event.amount"] == 120.0
    assert fields["event.items_count"] == 2
    assert fields["event.coupon_codes"] == ["NEW10"]
    assert fields["event.shipping_address.country"] == "ID"
    assert (fields["user.id"], fields["device.fingerprint"], fields["event.hour"]) == (
        "u1",
        "fp1",
        23,
    )
    assert fields["event.time"] == at_us // 1_000_000
    assert fields["ip.prefix"] == "10.0.0.0/24"


def test_state_features_read_each_entity_once() -> None:
    store = BucketStore()
    for i in range(3):
        store.add(StateUpdate("user", "u1", "order_placed", NOW - i * 60 * S, 10.0 * (i + 1)))
    store.add(StateUpdate("user", "u1", "login_failed", NOW - 2 * 3600 * S))
    for user in ("u1", "u2", "u3"):
        store.add(StateUpdate("device", "fp1", "users", NOW - 3600 * S, distinct=user))
    reads: list[tuple[str, str]] = []

    def windows_of(t: str, i: str, w: tuple[int, ...], m: tuple[str, ...] | None) -> Any:
        reads.append((t, i))
        return store.windows(t, i, w, NOW, m)

    got = state_features(
        [
            "velocity.user.orders_1h",
            "velocity.user.order_amount_1h",
            "velocity.user.events_24h",
            "velocity.user.failed_logins_1h",
            "graph.device.distinct_users_24h",
            "velocity.ip.orders_1h",
            "event.amount",
        ],
        {"user": "u1", "device": "fp1", "ip": None},
        windows_of,
    )
    assert got == {
        "velocity.user.orders_1h": 3,
        "velocity.user.order_amount_1h": 60.0,
        "velocity.user.events_24h": 4,
        "velocity.user.failed_logins_1h": 0,
        "graph.device.distinct_users_24h": 3,
        "velocity.ip.orders_1h": None,  # the event has no ip: a rule using it fails
    }
    assert sorted(reads) == [("device", "fp1"), ("user", "u1")]


def test_the_example_ruleset_loads_in_priority_order() -> None:
    ruleset = load_ruleset(EXAMPLE.read_text(encoding="utf-8"))
    assert ruleset.checkpoint == "order"
    assert [r.rule.id for r in ruleset.rules] == [
        "blocked_device",
        "cod_burst",
        "shared_device",
        "big_first_order",
    ]
    assert "velocity.user.orders_1h" in ruleset.fields
    assert ruleset.rules[1].rule.reason_zh == "一小时内多次货到付款下单"


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("checkpoint: nope\nrules: []\n", "checkpoint (line 1): must be one of login"),
        ("checkpoint: order\nrules: 3\n", "rules (line 1): must be a list of rules"),
        ("checkpoint: order\nrules: [\n", "file (line 3): not valid YAML"),
        (
            "checkpoint: order\nrules:\n  - id: r1\n    when: event.amout > 1\n    outcome: deny\n",
            "rules[0] (r1).when (line 3): 1:1: unknown field 'event.amout'",
        ),
        (
            "checkpoint: order\nrules:\n  - id: r1\n    when: event.amount >\n    outcome: deny\n",
            "rules[0] (r1).when (line 3): 1:14: unexpected input",
        ),
        (
            "checkpoint: order\nrules:\n  - id: r1\n    when: 'true'\n    outcome: maybe\n",
            "rules[0] (r1).outcome (line 3): required: one of allow",
        ),
        (
            "checkpoint: order\nrules:\n  - id: r1\n    when: 'true'\n    outcome: deny\n"
            "    score: 101\n    colour: red\n",
            "rules[0] (r1).score (line 3): must be an integer from 0 to 100",
        ),
        (
            "checkpoint: order\nrules:\n  - {id: a, when: 'true', outcome: deny}\n"
            "  - {id: a, when: 'false', outcome: deny}\n",
            "rules[1] (a).id (line 4): duplicate rule id",
        ),
    ],
)
def test_invalid_rulesets_name_the_place(yaml_text: str, problem: str) -> None:
    with pytest.raises(InvalidRuleset) as err:
        load_ruleset(yaml_text)
    assert problem in str(err.value)


def _fields(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "device.fingerprint": "fp1",
        "event.payment_method": "cod",
        "event.amount": 80.0,
        "velocity.user.orders_1h": 1,
        "velocity.user.orders_30d": 4,
        "graph.device.distinct_users_30d": 1,
    }
    base.update(overrides)
    return base


def test_evaluation_outcomes_scores_actions_and_reasons() -> None:
    ruleset = load_ruleset(EXAMPLE.read_text(encoding="utf-8"))
    quiet = evaluate(ruleset, _fields())
    assert (quiet.outcome, quiet.score, quiet.actions, quiet.reasons) == ("allow", 0, [], [])
    busy = evaluate(
        ruleset, _fields(**{"velocity.user.orders_1h": 5, "graph.device.distinct_users_30d": 4})
    )
    assert busy.outcome == "review"  # review beats challenge
    assert busy.score == 55
    assert busy.actions == ["require_online_payment", "require_otp"]
    assert [r.rule_id for r in busy.reasons] == ["cod_burst", "shared_device"]
    assert busy.reasons[0].values == {
        "event.payment_method": "cod",
        "velocity.user.orders_1h": 5,
    }
    assert busy.trace["cod_burst"]["nodes"]["1:34 velocity.user.orders_1h"] == 5
    assert busy.trace["cod_burst"]["nodes"]["1:34 >="] is True
    blocked = evaluate(
        ruleset, _fields(), in_list=lambda n, v: (n, v) == ("blocked_devices", "fp1")
    )
    assert (blocked.outcome, blocked.score, blocked.actions[0]) == ("deny", 100, "block")


def test_shadow_rules_record_hits_without_changing_anything() -> None:
    ruleset = load_ruleset(EXAMPLE.read_text(encoding="utf-8"))
    result = evaluate(ruleset, _fields(**{"event.amount": 900.0, "velocity.user.orders_30d": 0}))
    assert result.shadow_hits == ["big_first_order"]
    assert (result.outcome, result.score, result.actions) == ("allow", 0, [])


def test_allow_listed_entities_skip_named_rules() -> None:
    ruleset = load_ruleset(EXAMPLE.read_text(encoding="utf-8"))
    result = evaluate(
        ruleset, _fields(**{"velocity.user.orders_1h": 9}), allowed=frozenset({"user"})
    )
    assert result.skipped == ["cod_burst"]
    assert result.outcome == "allow"


@pytest.mark.parametrize(("fail_mode", "outcome"), [("open", "allow"), ("closed", "review")])
def test_a_failing_rule_is_recorded_and_the_fail_mode_applies(fail_mode: str, outcome: str) -> None:
    ruleset = load_ruleset(EXAMPLE.read_text(encoding="utf-8"))
    fields = _fields(**{"graph.device.distinct_users_30d": None})  # e.g. the state is down
    result = evaluate(ruleset, fields, fail_mode=fail_mode)
    assert [(e.rule_id, e.position) for e in result.errors] == [("shared_device", "1:1")]
    assert result.trace["shared_device"]["value"] is None
    assert result.outcome == outcome


def test_an_untraced_run_decides_the_same_and_its_trace_can_be_rebuilt() -> None:
    ruleset = load_ruleset(EXAMPLE.read_text(encoding="utf-8"))
    fields = _fields(**{"velocity.user.orders_1h": 5, "graph.device.distinct_users_30d": None})
    blocked = {("blocked_devices", "fp1")}
    fast = evaluate(
        ruleset, fields, in_list=lambda n, v: (n, v) in blocked, fail_mode="closed", trace=False
    )
    assert fast.trace["cod_burst"] == {"value": True}
    assert fast.lookups == {"blocked_devices\x1ffp1": True}
    replay = evaluate(
        ruleset,
        fields,
        in_list=lambda n, v: fast.lookups.get(f"{n}\x1f{v}", False),
        fail_mode="closed",
    )
    assert (replay.outcome, replay.score, replay.actions) == (
        fast.outcome,
        fast.score,
        fast.actions,
    )
    assert [r.values for r in replay.reasons] == [r.values for r in fast.reasons]
    assert {k: v["value"] for k, v in replay.trace.items()} == {
        k: v["value"] for k, v in fast.trace.items()
    }
    assert replay.trace["blocked_device"]["nodes"] == {
        "1:28 device.fingerprint": "fp1",
        "1:1 in_list()": True,
    }
    assert "nodes" in replay.trace["shared_device"]  # the failing rule's nodes too
