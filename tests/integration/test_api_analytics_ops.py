"""Cohorts, funnels, carts (recovery with a holdout, uplift), channels, referrals and reviews
over HTTP and the CLI, on a simulated marketplace in the event log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from riskops.cli.main import app as cli
from tests.factories import NOW
from tests.integration.testclient import TestClient

ENV = {"COLUMNS": "200"}


def test_cohorts_funnel_and_page_exits(market: TestClient) -> None:
    cohorts = market.get("/v1/analytics/cohorts", params={"period": "week"})
    assert cohorts.status_code == 200, cohorts.text
    cells = cohorts.json()["retention"]
    assert cells
    assert all(c["retention"] == 1.0 for c in cells if c["offset"] == 0)
    assert all(0 <= c["retention"] <= 1 for c in cells)
    steps = ["page.viewed[page_type=product]", "cart.item_added", "order.placed"]
    funnel = market.get("/v1/analytics/funnel", params={"steps": steps, "window": "1d"})
    assert funnel.status_code == 200, funnel.text
    entered = [s["entered"] for s in funnel.json()["steps"]]
    assert len(entered) == 3
    assert entered[0] > 0
    assert entered == sorted(entered, reverse=True)  # nobody skips a step in strict order
    assert funnel.json()["page_exits"][0]["views"] >= funnel.json()["page_exits"][0]["exits"]
    bad = market.get("/v1/analytics/funnel", params={"steps": ["order.placed"], "order": "x"})
    assert bad.status_code == 422
    assert bad.json()["error"]["problems"][0]["field"] in ("order", "steps")


def test_carts_recovery_holdout_and_uplift(market: TestClient) -> None:
    carts = market.get("/v1/analytics/carts", params={"idle": "2h"})
    assert carts.status_code == 200, carts.text
    counts = carts.json()["counts"]
    assert counts["abandoned"] == carts.json()["carts_total"] == len(carts.json()["carts"]) > 0
    paged = market.get("/v1/analytics/carts", params={"idle": "2h", "limit": 2, "offset": 1})
    assert paged.json()["carts"] == carts.json()["carts"][1:3]
    no_secret = market.post(
        "/v1/analytics/carts/recovery", json={"campaign_id": "c1", "webhook_url": "http://x"}
    )
    assert no_secret.status_code == 422
    assert no_secret.json()["error"]["problems"][0]["field"] == "webhook_url"
    for body, field in (
        ({"campaign_id": "c1", "include_abusers": "false"}, "include_abusers"),
        ({"campaign_id": "c1", "max_discount_usd": "abc"}, "max_discount_usd"),
        ({"campaign_id": "c1", "idle": "0h"}, "idle"),
    ):
        refused = market.post("/v1/analytics/carts/recovery", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["problems"][0]["field"] == field
    plan = market.post(
        "/v1/analytics/carts/recovery", json={"campaign_id": "c1", "holdout_share": 0.5}
    )
    assert plan.status_code == 200, plan.text
    actions = plan.json()["actions"]
    groups = {a["group"] for a in actions}
    assert groups <= {"treated", "holdout"}
    assert len(actions) > 0
    again = market.post(
        "/v1/analytics/carts/recovery", json={"campaign_id": "c1", "holdout_share": 0.5}
    )
    assert [a["group"] for a in again.json()["actions"]] == [a["group"] for a in actions]
    later = (NOW + timedelta(days=3)).isoformat()
    measured = market.post(
        "/v1/analytics/carts/uplift", json={"actions": actions, "window": "1d", "as_of": later}
    )
    assert measured.json()["pending"] == 0  # a day's window has ended three days on
    uplift = market.post("/v1/analytics/carts/uplift", json={"actions": actions, "window": "1h"})
    assert uplift.status_code == 200, uplift.text
    result = uplift.json()["uplift"]
    assert result["treated_carts"] + result["holdout_carts"] + uplift.json()["pending"] == len(
        actions
    )
    broken = market.post("/v1/analytics/carts/uplift", json={"actions": [{"action_id": "a"}]})
    assert broken.status_code == 422
    assert broken.json()["error"]["problems"][0]["field"].startswith("actions[1].")


def test_channels_referrals_and_reviews(market: TestClient) -> None:
    channels = market.get("/v1/analytics/channels")
    assert channels.status_code == 200, channels.text
    rows = channels.json()["channels"]
    assert sum(r["users"] for r in rows) > 0
    assert sum(r["excluded_users"] for r in rows) > 0  # the simulator's labelled abusers
    assert all(r["buyers"] <= r["users"] for r in rows)
    valued = market.get("/v1/analytics/channels", params={"with_clv": "true"}).json()
    assert valued["clv_error"] is not None or any(r["clv_users"] for r in valued["channels"])
    assert market.get("/v1/analytics/referrals").status_code == 200
    reviews = market.get("/v1/analytics/reviews", params={"by": "all"})
    assert reviews.status_code == 200, reviews.text
    assert {h["term"] for h in reviews.json()["heat"]} & {"delivery", "quality"}
    bad = market.get("/v1/analytics/reviews", params={"by": "planet"})
    assert bad.status_code == 422
    assert bad.json()["error"]["problems"][0]["field"] == "by"


def test_cli_on_the_same_log(market: TestClient, tmp_path: Path) -> None:
    env = {**ENV, "RISKOPS_DATA_DIR": str(tmp_path / "data"), "RISKOPS_SECRET_KEY": "test-secret"}
    runner = CliRunner()
    steps = ["page.viewed[page_type=product]", "cart.item_added", "order.placed"]
    commands = [
        ["cohorts", "--period", "week", "--chart", str(tmp_path / "retention.html")],
        ["funnel", *steps, "--by", "market", "--out", str(tmp_path / "funnel.csv")],
        ["carts", "--as-of", (NOW - timedelta(hours=1)).isoformat()],
        ["channels", "--no-with-clv"],
        ["referrals"],
        ["reviews", "--by", "merchant", "--out", str(tmp_path / "heat.json")],
    ]
    for args in commands:
        result = runner.invoke(cli, ["analytics", *args], env=env)
        assert result.exit_code == 0, (args, result.output)
    assert (tmp_path / "retention.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert (tmp_path / "funnel.csv").read_text(encoding="utf-8").startswith('"group"')
    actions = tmp_path / "actions.parquet"
    plan = ["analytics", "carts", "--campaign", "c9", "--actions-out", str(actions)]
    planned = runner.invoke(cli, plan, env=env)
    assert planned.exit_code == 0, planned.output
    assert "held out" in planned.output
    measured = runner.invoke(cli, ["analytics", "carts", "--measure", str(actions)], env=env)
    assert measured.exit_code == 0, measured.output
    assert "treated vs holdout" in measured.output
    markup = runner.invoke(cli, ["analytics", "funnel", "page.viewed[/]", "order.placed"], env=env)
    assert markup.exit_code == 2, markup.output  # an error naming the step, not a crash
    idle = runner.invoke(cli, ["analytics", "carts", "--idle", "0h"], env=env)
    assert idle.exit_code == 2
    assert "--idle" in idle.output
    bad = runner.invoke(cli, ["analytics", "cohorts", "--period", "year"], env=env)
    assert bad.exit_code == 2
    assert "period" in bad.output
