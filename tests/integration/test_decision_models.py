"""The champion model in the decision path: ``model.score`` for the rules and the policy, its
top contributing features on non-allow decisions, the newest version scored in shadow, hot
reload on promotion - and the features it is served are those it was trained on (online ==
offline, on the same events)."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from riskops.core.models.features import MODELS
from riskops.services.feature_frame import feature_frame
from riskops.services.models import ModelRegistry, train
from riskops.services.runtime import Runtime
from tests.factories import NOW, iso
from tests.integration.testclient import TestClient

pytest.importorskip("lightgbm")

FEATURES = MODELS["order_fraud"].features
REVIEW_ALL = """checkpoint: order
rules:
  - id: risky_model
    when: model.score >= 0.0
    outcome: review
    score: 1
    reason: {en: "model flags it", zh: "模型标记"}
"""


def _replayed_orders(events_file: Path, n: int) -> list[dict[str, Any]]:
    """The last ``n`` simulated orders again, as new events in the minute before NOW (their
    users, devices and addresses have history in the log)."""
    orders = [
        e
        for e in map(orjson.loads, events_file.read_bytes().splitlines())
        if e["type"] == "order.placed"
    ][-n:]
    out = []
    for i, e in enumerate(orders):
        e = dict(e, event_id=f"again-{i}", occurred_at=iso(NOW - timedelta(seconds=n - i)))
        e["payload"] = dict(e["payload"], order_id=f"again-o-{i}")
        out.append(e)
    return out


def _champion(rt: Runtime, promote: bool = True) -> str:
    result = train(rt.store, rt.settings.resolved_secret(), model="order_fraud")
    registry = ModelRegistry(rt.settings.data_dir)
    version = registry.register(result)
    if promote:
        registry.promote("order_fraud", version)
    return version


def test_model_scores_decisions_and_serves_the_training_features(
    market: TestClient, ops_runtime: Runtime, tmp_path: Path
) -> None:
    client = market
    orders = _replayed_orders(tmp_path / "events.jsonl", 25)
    first = client.post("/v1/decisions/order", json=orders[0]).json()
    assert first["versions"]["model"] is None  # nothing promoted yet
    assert "model" not in first

    assert _champion(ops_runtime) == "v1"
    answers = [client.post("/v1/decisions/order", json=o).json() for o in orders[1:]]
    for a in answers:
        assert a["versions"]["model"] == "order_fraud:v1"
        assert 0.0 <= a["model"]["score"] <= 100.0
        assert a["score"] >= round(a["model"]["score"])  # the model is a floor under the score

    # online == offline: the stored context of each decision against the training frame
    frame = feature_frame(
        ops_runtime.store, ops_runtime.settings.resolved_secret(), "order", FEATURES
    ).table.to_pylist()
    offline = {row["event_id"]: row for row in frame}
    compared = 0
    for a in answers:
        stored = client.get(f"/v1/decisions/{a['decision_id']}").json()["fields"]
        row = offline[a["event_id"]]
        for path in FEATURES:
            online_value, offline_value = stored[path], row[path]
            if offline_value is None:
                assert online_value is None, path
            else:
                assert online_value == pytest.approx(float(offline_value), rel=1e-9), path
            compared += 1
    assert compared == len(answers) * len(FEATURES)
    assert any(stored[p] not in (0, None) for p in FEATURES if p.startswith("velocity."))


def test_rules_read_model_score_and_non_allow_decisions_carry_contributions(
    market: TestClient, ops_runtime: Runtime, tmp_path: Path
) -> None:
    client = market
    _champion(ops_runtime)
    pushed = client.post("/v1/rulesets/order", content=REVIEW_ALL)
    assert pushed.status_code == 201, pushed.text
    version = pushed.json()["version"]
    assert client.post(f"/v1/rulesets/order/{version}/activate").status_code == 200
    order = _replayed_orders(tmp_path / "events.jsonl", 1)[0]
    answer = client.post("/v1/decisions/order", json=order).json()
    assert answer["outcome"] == "review"
    (hit,) = [r for r in answer["reasons"] if r["rule_id"] == "risky_model"]
    assert hit["values"]["model.score"] == answer["model"]["score"]
    contributions = answer["model"]["contributions"]
    assert 1 <= len(contributions) <= 5
    assert {c["feature"] for c in contributions} <= set(FEATURES)
    sizes = [abs(c["contribution"]) for c in contributions]
    assert sizes == sorted(sizes, reverse=True)
    trace = client.get(f"/v1/decisions/{answer['decision_id']}").json()
    assert trace["trace"]["risky_model"]["value"] is True


def test_newest_version_scores_in_shadow_until_promoted(
    market: TestClient, ops_runtime: Runtime, tmp_path: Path
) -> None:
    client = market
    _champion(ops_runtime)
    assert _champion(ops_runtime, promote=False) == "v2"
    orders = _replayed_orders(tmp_path / "events.jsonl", 2)
    answer = client.post("/v1/decisions/order", json=orders[0]).json()
    assert answer["versions"]["model"] == "order_fraud:v1"
    stored = client.get(f"/v1/decisions/{answer['decision_id']}").json()
    assert stored["challenger"]["version"] == "v2"
    assert 0.0 <= stored["challenger"]["score"] <= 100.0

    ModelRegistry(ops_runtime.settings.data_dir).promote("order_fraud", "v2")
    # no restart: v2 loads in the background while v1 keeps scoring, then takes over
    for i in range(50):
        answer = client.post("/v1/decisions/order", json=dict(orders[1], event_id=f"p-{i}")).json()
        if answer["versions"]["model"] == "order_fraud:v2":
            break
        assert answer["versions"]["model"] == "order_fraud:v1"
        time.sleep(0.1)
    assert answer["versions"]["model"] == "order_fraud:v2"
    stored = client.get(f"/v1/decisions/{answer['decision_id']}").json()
    assert stored["challenger"] is None


def test_a_broken_champion_is_an_error_and_the_fail_mode_applies(
    market: TestClient, ops_runtime: Runtime, tmp_path: Path
) -> None:
    client = market
    version = _champion(ops_runtime)
    model_txt = ops_runtime.settings.data_dir / "models" / "order_fraud" / version / "model.txt"
    model_txt.write_text("not a model", encoding="utf-8")
    meta = model_txt.with_name("meta.json")
    meta.write_text(meta.read_text(encoding="utf-8"), encoding="utf-8")  # a new mtime
    policy = "fail_mode: {default: open, order: closed}\n"
    pushed = client.post("/v1/policy", content=policy)
    assert pushed.status_code == 201, pushed.text
    assert client.post(f"/v1/policy/{pushed.json()['version']}/activate").status_code == 200
    order = _replayed_orders(tmp_path / "events.jsonl", 1)[0]
    answer = client.post("/v1/decisions/order", json=order).json()
    assert answer["model"]["score"] is None
    assert any(e["rule_id"] == "model" for e in answer["errors"])
    assert answer["outcome"] in ("review", "deny")
    assert not math.isnan(answer["score"])


def test_backtests_score_with_the_champion_as_live(
    market: TestClient, ops_runtime: Runtime, tmp_path: Path
) -> None:
    no_model = ops_runtime.backtests.run(REVIEW_ALL)
    assert no_model["model"] is None
    (rule,) = no_model["rules"]
    assert rule["hits"] == 0
    assert rule["errors"] > 0  # model.score is missing: the rule fails, it never passes silently

    _champion(ops_runtime)
    report = ops_runtime.backtests.run(REVIEW_ALL)
    assert report["model"] == "order_fraud:v1"
    (rule,) = report["rules"]
    assert rule["errors"] == 0
    assert rule["hits"] == no_model["rules"][0]["errors"]  # every order is scored

    # the backtest's score is the live one: an order decided live, then replayed with rules
    # at exactly its live score and just above it
    order = _replayed_orders(tmp_path / "events.jsonl", 1)[0]
    live = market.post("/v1/decisions/order", json=order).json()
    at = live["model"]["score"]
    for op, expected in ((">=", "review"), (">", "allow")):
        text = REVIEW_ALL.replace("model.score >= 0.0", f"model.score {op} {at!r}")
        replay = {r[0]: r[1] for r in ops_runtime.backtests.decisions(text)}
        assert replay[order["event_id"]] == expected, (op, at)
