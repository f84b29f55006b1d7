"""Training data is point-in-time and models learn from it: a hand-made log whose features and
labels are worked out by hand (an event never counts itself, nor its same-time peers), then
a simulated marketplace - its labels brought in as ``label.reported`` events - on which the
order-fraud model is trained with a time split, calibrated, measured, registered and loaded
back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import numpy as np
import orjson
import pytest

from riskops.core.events.catalogue import LabelReported
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.feature_frame import feature_frame
from riskops.services.log_scan import scan_log
from riskops.services.models import ModelRegistry, TrainResult, explain, train
from riskops.services.runtime import Runtime, build_runtime
from tests.factories import NOW, PAYLOADS, event

SECRET = b"test-secret"
PATHS = ["velocity.user.orders_1h", "graph.device.distinct_users_7d", "event.amount"]


def _order(order_id: str, minutes_ago: int, user: str, amount: float) -> dict[str, Any]:
    payload = {**PAYLOADS["order.placed"], "order_id": order_id, "amount": amount}
    return event(
        "order.placed", at=NOW - timedelta(minutes=minutes_ago), user=user, payload=payload
    )


def _label(entity_type: str, entity_id: str, label: str) -> dict[str, Any]:
    payload = {"label": label, "entity_type": entity_type, "entity_id": entity_id, "source": "case"}
    return event("label.reported", user=None, device=None, ip=None, payload=payload)


def _hand_log(rt: Runtime) -> None:
    """u-1 orders at -50, -40, -30 min; u-2 twice at -20 min (the same microsecond); all on
    dev-1. Labels: o-2 brushing, user u-2 and order o-5 account takeover, a chargeback on o-3
    (fraud)."""
    traffic = [
        _order("o-1", 50, "u-1", 10.0),
        event("login.succeeded", at=NOW - timedelta(minutes=45), user="u-1"),
        _order("o-2", 40, "u-1", 20.0),
        _order("o-3", 30, "u-1", 30.0),
        _order("o-4", 20, "u-2", 40.0),
        _order("o-5", 20, "u-2", 50.0),
        _label("order", "o-2", "brushing"),
        _label("user", "u-2", "account_takeover"),
        _label("order", "o-5", "account_takeover"),
        event(
            "chargeback.received",
            payload={"order_id": "o-3", "amount": 30.0, "currency": "IDR"},
        ),
    ]
    assert all(r.status == "accepted" for r in rt.ingest.ingest(traffic))


def test_features_are_read_just_before_each_event_and_labels_join_later(
    ops_runtime: Runtime,
) -> None:
    _hand_log(ops_runtime)
    frame = feature_frame(ops_runtime.store, SECRET, "order", PATHS, event_types=["order.placed"])
    t = frame.table.to_pydict()
    assert frame.rows == 5  # the login is not an order
    assert t["market"] == ["ID"] * 5
    assert t["user_id"] == ["u-1", "u-1", "u-1", "u-2", "u-2"]
    naive_now = NOW.replace(tzinfo=None)  # ts: TIMESTAMP in UTC
    assert t["ts"] == [naive_now - timedelta(minutes=m) for m in (50, 40, 30, 20, 20)]
    # an order never counts itself; o-4 and o-5 occurred at the same time: neither sees the other
    assert t["velocity.user.orders_1h"] == [0, 1, 2, 0, 0]
    assert t["graph.device.distinct_users_7d"] == [0, 1, 1, 1, 1]
    assert t["event.amount"] == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert t["amount"] == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert t["label_brushing"] == [0, 1, 0, 0, 0]
    # a takeover marks the order it names, not the victim's other orders (u-2's label)
    assert t["label_account_takeover"] == [0, 0, 0, 0, 1]
    assert t["label_fraud"] == [0, 0, 1, 0, 0]  # the chargeback
    assert t["label_coupon_abuse"] == [0] * 5

    # a window: o-1 is left out as a row, yet still counted in o-2's history
    since = int((NOW - timedelta(minutes=45)).timestamp() * 1_000_000)
    until = int((NOW - timedelta(minutes=25)).timestamp() * 1_000_000)
    window = feature_frame(
        ops_runtime.store, SECRET, "order", PATHS, since_us=since, until_us=until
    ).table.to_pydict()
    assert window["velocity.user.orders_1h"] == [1, 2]
    assert window["label_brushing"] == [1, 0]

    # what was known at a time: labels (and chargebacks) that arrived later are not read
    before = int((NOW - timedelta(minutes=2)).timestamp() * 1_000_000)
    known = feature_frame(
        ops_runtime.store, SECRET, "order", PATHS, labels_until_us=before
    ).table.to_pydict()
    assert known["label_brushing"] == [0] * 5
    assert known["label_fraud"] == [0] * 5
    assert known["velocity.user.orders_1h"] == t["velocity.user.orders_1h"]


def test_bad_frame_and_training_inputs_name_the_problem(ops_runtime: Runtime) -> None:
    _hand_log(ops_runtime)
    store = ops_runtime.store
    cases: list[tuple[dict[str, Any], str]] = [
        ({"checkpoint": "nowhere", "paths": PATHS}, "checkpoint"),
        ({"checkpoint": "order", "paths": ["velocity.user.nonsense_1h"]}, "velocity.user."),
        ({"checkpoint": "order", "paths": ["graph.device.blocked_users"]}, "graph.device."),
        ({"checkpoint": "order", "paths": []}, "paths"),
        ({"checkpoint": "order", "paths": PATHS, "event_types": ["login.failed"]}, "event_"),
        ({"checkpoint": "order", "paths": PATHS, "since_us": 5, "until_us": 5}, "until_us"),
    ]
    for kwargs, field in cases:
        with pytest.raises(AnalyticsInputError) as err:
            feature_frame(store, SECRET, **kwargs)
        assert err.value.field.startswith(field), kwargs
    with pytest.raises(AnalyticsInputError, match="unknown model"):
        train(store, SECRET, model="nonsense")
    with pytest.raises(AnalyticsInputError, match="not a bad label kind"):
        train(store, SECRET, model="order_fraud", label_kinds=["legit"])
    with pytest.raises(AnalyticsInputError) as err:
        train(store, SECRET, model="order_fraud", valid_fraction=0.5)  # 5 events, 3 times
    assert err.value.field == "valid_fraction"
    with pytest.raises(AnalyticsInputError, match="objective"):
        train(store, SECRET, model="order_fraud", params={"objective": "regression"})
    with pytest.raises(AnalyticsInputError, match="no positives"):
        train(store, SECRET, model="order_fraud", label_kinds=["scraping"], valid_fraction=0.6)


START = datetime(2026, 10, 1, tzinfo=UTC)
DAYS = 21
LABEL_ENTITIES = set(get_args(LabelReported.model_fields["entity_type"].annotation))
LABEL_KINDS = set(get_args(LabelReported.model_fields["label"].annotation))


def _labels_as_events(labels_file: Path, at: datetime) -> tuple[list[dict[str, Any]], int]:
    """The simulator's labels as ``label.reported`` events at ``at``, and how many could not
    be (a kind or entity type the catalogue does not have)."""
    out, skipped = [], 0
    for i, line in enumerate(labels_file.read_bytes().splitlines()):
        row = orjson.loads(line)
        if row["label"] not in LABEL_KINDS or row["entity_type"] not in LABEL_ENTITIES:
            skipped += 1
            continue
        payload = {
            "entity_type": row["entity_type"],
            "entity_id": row["entity_id"],
            "label": row["label"],
            "source": "simulator",
        }
        out.append(
            event("label.reported", at=at, user=None, device=None, ip=None, payload=payload)
            | {"event_id": f"label-{i}"}
        )
    return out, skipped


@pytest.fixture(scope="module")
def marketplace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """21 days of 3,000 simulated users in a scratch runtime, labels included."""
    from riskops.config import Settings
    from riskops.services.file_ingest import FileIngest
    from riskops.simulator import SimConfig, simulate

    work = tmp_path_factory.mktemp("market")
    simulate(
        SimConfig(seed=5, days=DAYS, users=3000, start=START),
        work / "events.jsonl",
        work / "labels.jsonl",
    )
    runtime = build_runtime(
        Settings(
            data_dir=work / "data",
            secret_key="simulated-secret",
            database_url=None,
            state_backend="memory",
        ),
        with_state=False,
        clock=lambda: START + timedelta(days=DAYS + 2),
    )
    try:
        summary = FileIngest(runtime.ingest, runtime.clock).run(
            work / "events.jsonl", rejected_path=work / "rejected.jsonl"
        )
        assert summary.rejected == 0
        labels, skipped = _labels_as_events(work / "labels.jsonl", START + timedelta(days=DAYS))
        assert skipped == 0
        for i in range(0, len(labels), 1000):
            results = runtime.ingest.ingest(labels[i : i + 1000])
            assert all(r.status == "accepted" for r in results)
        yield runtime
    finally:
        runtime.close()


SINCE = int((START + timedelta(days=2)).timestamp() * 1_000_000)  # two days of history first


@pytest.fixture(scope="module")
def trained(marketplace: Runtime) -> TrainResult:
    return train(
        marketplace.store,
        marketplace.settings.resolved_secret(),
        model="order_fraud",
        label_kinds=("brushing", "account_takeover"),
        since_us=SINCE,
    )


def _metric(result: TrainResult, part: str, label: str) -> dict[str, Any]:
    (row,) = [m for m in result.metrics if m["part"] == part and m["label"] == label]
    return row


def test_the_order_fraud_model_ranks_later_fraud_above_legitimate_orders(
    trained: TrainResult,
) -> None:
    test = _metric(trained, "test", "any")
    assert test["rows"] > 300
    assert 0.02 < test["base_rate"] < 0.5
    assert test["auc"] > 0.8
    assert test["pr_auc"] > 0.5
    assert test["recall_at_fpr_5pct"] > 0.5
    assert test["recall_at_fpr_0_5pct"] <= test["recall_at_fpr_1pct"] <= test["recall_at_fpr_5pct"]
    brushing = _metric(trained, "test", "brushing")
    takeover = _metric(trained, "test", "account_takeover")
    assert brushing["positives"] > 20
    assert takeover["positives"] >= 3
    assert brushing["positives"] + takeover["positives"] == test["positives"]
    assert {r["feature"] for r in trained.importances} == set(trained.model.features)
    assert trained.importances[0]["gain"] > 0
    assert sum(r["share"] for r in trained.importances) == pytest.approx(1.0, abs=1e-4)


def test_validation_rows_are_all_later_than_training_rows(trained: TrainResult) -> None:
    frame = trained.frame.to_pydict()
    by_part: dict[str, list[datetime]] = {"train": [], "calibration": [], "test": []}
    for split, ts in zip(frame["split"], frame["ts"], strict=True):
        by_part[split].append(ts)
    assert max(by_part["train"]) < min(by_part["calibration"])
    assert max(by_part["calibration"]) < min(by_part["test"])
    assert min(by_part["train"]) >= datetime.fromtimestamp(SINCE / 1e6, UTC).replace(tzinfo=None)
    n = len(frame["split"])
    assert len(by_part["calibration"]) + len(by_part["test"]) == pytest.approx(0.2 * n, abs=5)
    assert trained.parts["train"]["rows"] == len(by_part["train"])


def test_calibrated_probabilities_lie_in_0_1_and_follow_the_raw_score(
    trained: TrainResult,
) -> None:
    raw = np.asarray(trained.frame["raw_score"].to_pylist())
    prob = np.asarray(trained.frame["probability"].to_pylist())
    assert prob.min() >= 0.0
    assert prob.max() <= 1.0
    order = np.argsort(raw, kind="mergesort")
    assert np.all(np.diff(prob[order]) >= 0)
    assert prob.max() > 0.5 > prob.min()  # it does tell fraud from the rest


def test_training_features_are_those_the_frame_gives(
    marketplace: Runtime, trained: TrainResult
) -> None:
    model = trained.model
    frame = feature_frame(
        marketplace.store,
        marketplace.settings.resolved_secret(),
        "order",
        list(model.features),
        since_us=SINCE,
        event_types=["order.placed"],
    ).table
    assert frame["event_id"].to_pylist() == trained.frame["event_id"].to_pylist()
    for path in model.features:
        assert frame[path].to_pylist() == trained.frame[path].to_pylist(), path
    assert sum(v or 0 for v in frame["velocity.user.orders_24h"].to_pylist()) > 100


def test_the_registry_round_trip_keeps_predictions(trained: TrainResult, tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    rows = [
        {p: r[p] for p in trained.model.features}
        for r in trained.frame.slice(trained.frame.num_rows - 50).to_pylist()
    ]
    v1 = registry.register(trained)
    v2 = registry.register(trained)
    assert (v1, v2) == ("v1", "v2")
    with pytest.raises(AnalyticsInputError, match="no champion"):
        registry.load("order_fraud")
    registry.promote("order_fraud", v1)
    registry.promote("order_fraud", v2)
    listed = registry.list()
    assert [(r["version"], r["role"]) for r in listed] == [("v1", "challenger"), ("v2", "champion")]
    assert listed[0]["test_auc"] == _metric(trained, "test", "any")["auc"]
    loaded = registry.load("order_fraud")
    assert loaded.meta["version"] == "v2"
    assert loaded.meta["label_kinds"] == ["brushing", "account_takeover"]
    assert loaded.predict_proba(rows) == pytest.approx(trained.model.predict_proba(rows), abs=1e-12)
    expected = trained.frame["probability"].to_pylist()[-50:]
    assert loaded.predict_proba(rows) == pytest.approx(expected, abs=1e-12)
    assert (tmp_path / "models" / "order_fraud" / "v1" / "model.txt").is_file()
    with pytest.raises(AnalyticsInputError, match="no version"):
        registry.load("order_fraud", "v9")
    with pytest.raises(AnalyticsInputError):
        registry.promote("../etc", "v1")
    with pytest.raises(AnalyticsInputError, match="not a number"):
        loaded.predict_proba([{"event.amount": "12"}])
    assert loaded.predict_proba([]) == []


def test_explanations_add_up_to_the_raw_score(trained: TrainResult) -> None:
    model = trained.model
    flagged = max(trained.frame.to_pylist(), key=lambda r: r["raw_score"])
    row = {p: flagged[p] for p in model.features}
    top = explain(model, row, k=3)
    assert len(top) == 3
    assert [abs(c) for _, c in top] == sorted((abs(c) for _, c in top), reverse=True)
    everything = model.explain(row, k=len(model.features))
    bias = model.booster.predict(model.matrix([row]), pred_contrib=True)[0][-1]
    assert sum(c for _, c in everything) + bias == pytest.approx(model.raw_scores([row])[0])


def test_return_risk_learns_which_orders_come_back(marketplace: Runtime) -> None:
    # returns come days after delivery: leave out the last week, whose outcomes are not known
    until = int((START + timedelta(days=DAYS - 7)).timestamp() * 1_000_000)
    result = train(
        marketplace.store,
        marketplace.settings.resolved_secret(),
        model="return_risk",
        until_us=until,
    )
    frame = result.frame.to_pydict()
    returned = {e for e, y in zip(frame["event_id"], frame["label_returned"], strict=True) if y}
    # every order a return request names is a positive, and nothing else
    requested = set()
    orders = {}
    for row in scan_log(marketplace.store, None):
        body = orjson.loads(row.body)
        if row.type == "order.placed":
            orders[body["payload"]["order_id"]] = row.event_id
        elif row.type == "return.requested":
            requested.add(body["payload"]["order_id"])
    expected = {orders[o] for o in requested if o in orders} & set(frame["event_id"])
    assert returned == expected
    assert len(returned) > 20
    (test,) = [m for m in result.metrics if m["part"] == "test" and m["label"] == "returned"]
    assert test["positives"] > 0
    assert test["auc"] is not None
    assert 0.0 <= test["auc"] <= 1.0
