"""Credit tiers in live decisions: a refresh writes the snapshot (audited), every decision reads
the user's tier from it - ``credit.tier`` / ``credit.score`` for the rules - and the tier's
privileges apply: express refund, password-free payment, the new-user cap, pay later."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from typer.testing import CliRunner

from riskops.cli.main import app as cli
from riskops.services.runtime import Runtime
from riskops.services.standing import snapshot_path
from tests.factories import NOW, PAYLOADS, event
from tests.integration.testclient import TestClient

TIER_RULE = """checkpoint: order
rules:
  - id: low_tier_review
    when: credit.tier == "restricted" || (credit.tier != "new" && credit.score < 400)
    outcome: review
    score: 1
    reason: {en: "low credit", zh: "信用低"}
"""


def _order(user: str, amount_idr: float, method: str = "card") -> dict[str, Any]:
    payload = dict(PAYLOADS["order.placed"], payment_method=method, order_id=f"o-{user}")
    payload["items"] = [{"sku": "s", "merchant_id": "m-1", "price": amount_idr, "qty": 1}]
    return event("order.placed", at=NOW - timedelta(seconds=5), user=user, payload=payload)


def _users_by_tier(rt: Runtime) -> dict[str, list[str]]:
    table = pq.read_table(snapshot_path(rt.settings.data_dir)).to_pydict()
    out: dict[str, list[str]] = {}
    for user, tier in zip(table["user_id"], table["tier"], strict=True):
        out.setdefault(tier, []).append(user)
    return out


def test_refresh_then_tiers_set_privileges_in_decisions(
    market: TestClient, ops_runtime: Runtime
) -> None:
    client = market
    before = client.post("/v1/decisions/order", json=_order("stranger-0", 5_000_000.0)).json()
    assert before["policy"]["credit"] is None  # no snapshot yet: credit takes no part

    refreshed = client.post("/v1/credit/refresh")
    assert refreshed.status_code == 200, refreshed.text
    done = refreshed.json()
    assert done["users"] == sum(done["tiers"].values()) > 100
    audit = client.get("/v1/audit", params={"subject": "users"}).json()
    assert any(e["action"] == "credit.refresh" for e in audit["entries"])

    # an account the snapshot does not know is "new": its large order is challenged
    big = client.post("/v1/decisions/order", json=_order("stranger-1", 5_000_000.0)).json()
    assert big["policy"]["credit"]["tier"] == "new"
    assert big["outcome"] in ("challenge", "review", "deny")
    assert "require_otp" in big["actions"]
    small = client.post("/v1/decisions/order", json=_order("stranger-2", 150_000.0)).json()
    assert "require_otp" not in small["actions"]

    # eight days of history make every account "new": a platform's own privileges for it
    again = client.post(
        "/v1/credit/refresh", json={"privileges": {"new": {"express_refund": True}}}
    )
    assert again.status_code == 200, again.text
    known = _users_by_tier(ops_runtime)["new"]
    refund = event(
        "refund.requested",
        at=NOW - timedelta(seconds=4),
        user=known[0],
        payload={"order_id": "o-x", "amount": 100_000.0, "currency": "IDR"},
    )
    # the new snapshot loads in the background while the previous one answers
    for i in range(50):
        attempt = dict(refund, event_id=f"refund-{i}")
        answer = client.post("/v1/decisions/refund_request", json=attempt).json()
        if "instant_refund" in answer["actions"]:
            break
        time.sleep(0.1)
    assert answer["policy"]["credit"]["tier"] == "new"
    assert answer["policy"]["credit"]["score"] is not None  # known to the snapshot
    assert answer["outcome"] == "allow"
    assert "instant_refund" in answer["actions"]

    later = client.post(
        "/v1/decisions/payment_method", json=_order(known[1], 300_000.0, "pay_later")
    ).json()
    assert later["outcome"] == "allow"
    assert "require_online_payment" in later["actions"]
    assert "pay later" in later["policy"]["credit"]["notes"][0]

    bad = client.post("/v1/credit/refresh", json={"privileges": {"gold": {"pay_later": "yes"}}})
    assert bad.status_code == 422
    assert "privileges.gold.pay_later" in bad.text


def test_rules_read_the_credit_tier(market: TestClient, ops_runtime: Runtime) -> None:
    client = market
    pushed = client.post("/v1/rulesets/order", content=TIER_RULE)
    assert pushed.status_code == 201, pushed.text
    assert client.post(f"/v1/rulesets/order/{pushed.json()['version']}/activate").status_code == 200
    no_snapshot = client.post("/v1/decisions/order", json=_order("s-1", 1000.0)).json()
    assert [e["rule_id"] for e in no_snapshot["errors"]] == ["low_tier_review"]  # never silent
    assert client.post("/v1/credit/refresh").status_code == 200
    restricted = _users_by_tier(ops_runtime).get("restricted", [])
    # an account newer than the snapshot is "new" with no score
    fine = client.post("/v1/decisions/order", json=_order("s-2", 1000.0)).json()
    assert fine["errors"] == []
    assert fine["policy"]["credit"] == {
        "tier": "new",
        "score": None,
        "value_segment": "new",
        "notes": [],
    }
    assert "low_tier_review" not in [r["rule_id"] for r in fine["reasons"]]
    if restricted:
        hit = client.post("/v1/decisions/order", json=_order(restricted[0], 1000.0)).json()
        (reason,) = [r for r in hit["reasons"] if r["rule_id"] == "low_tier_review"]
        assert reason["values"]["credit.tier"] == "restricted"


def test_cli_refresh_prints_tiers_and_names_a_bad_file(market: TestClient, tmp_path: Path) -> None:
    env = {"COLUMNS": "200", "RISKOPS_DATA_DIR": str(tmp_path / "data"),
           "RISKOPS_SECRET_KEY": "test-secret"}  # fmt: skip
    runner = CliRunner()
    done = runner.invoke(cli, ["credit", "refresh", "-a", "ops"], env=env)
    assert done.exit_code == 0, done.output
    assert "credit snapshot" in done.output
    assert snapshot_path(tmp_path / "data").is_file()
    bad = tmp_path / "privileges.yaml"
    bad.write_text("gold: {express_refund: maybe}\n", encoding="utf-8")
    refused = runner.invoke(
        cli, ["credit", "refresh", "-a", "ops", "--privileges", str(bad)], env=env
    )
    assert refused.exit_code == 2
    assert "privileges.gold.express_refund" in refused.output


SCORE_ONLY = """checkpoint: order
rules:
  - id: very_risky
    when: event.amount > 0.0
    outcome: challenge
    score: 100
    reason: {en: "very risky", zh: "高风险"}
"""


def test_high_value_customers_are_reviewed_with_limits_where_others_are_denied(
    market: TestClient, ops_runtime: Runtime
) -> None:
    client = market
    assert client.post("/v1/credit/refresh").status_code == 200
    table = pq.read_table(snapshot_path(ops_runtime.settings.data_dir)).to_pydict()
    segment = dict(zip(table["user_id"], table["value_segment"], strict=True))
    high = [u for u, s in segment.items() if s == "high"]
    low = [u for u, s in segment.items() if s == "low"]
    assert high
    assert low
    assert len(high) < len(low)  # the top 20 %
    pushed = client.post("/v1/rulesets/order", content=SCORE_ONLY)
    assert client.post(f"/v1/rulesets/order/{pushed.json()['version']}/activate").status_code == 200
    served = client.post("/v1/decisions/order", json=_order(high[0], 1000.0)).json()
    assert served["outcome"] == "review"
    assert {"hold_for_review", "require_otp"} <= set(served["actions"])
    assert served["policy"]["credit"]["value_segment"] == "high"
    assert "high-value" in served["policy"]["credit"]["notes"][0]
    denied = client.post("/v1/decisions/order", json=_order(low[0], 1000.0)).json()
    assert denied["outcome"] == "deny"


def test_backtests_refuse_rules_on_the_credit_snapshot_and_models_cannot_learn_it(
    ops_runtime: Runtime,
) -> None:
    import pytest

    from riskops.core.models.features import feature_problems
    from riskops.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        ops_runtime.backtests.run(TIER_RULE)
    assert refused.value.problems[0].field == "credit.score"
    problems = dict(feature_problems("order", ["credit.score", "customer.value_segment"]))
    assert set(problems) == {"credit.score", "customer.value_segment"}
