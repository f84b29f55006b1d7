"""`riskops evaluate`: simulated traffic through every checkpoint's starter rules, scored per
attack, with the floors and a JSON copy; and the starter rulesets themselves."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from riskops.cli.evaluate import CHECKPOINT_FILES, starter_rulesets
from riskops.cli.main import app as cli
from riskops.services.rules import compile_ruleset

DOCS = Path(__file__).resolve().parents[2] / "docs" / "starter-rules.md"


def test_every_checkpoint_has_a_valid_documented_starter_ruleset() -> None:
    texts = starter_rulesets()
    assert set(texts) == set(CHECKPOINT_FILES)
    doc = DOCS.read_text(encoding="utf-8")
    for checkpoint, text in texts.items():
        ruleset = compile_ruleset(text)
        assert ruleset.checkpoint == checkpoint
        for rule in yaml.safe_load(text)["rules"]:
            assert rule.get("description"), rule["id"]
            assert rule["reason"]["en"]
            assert rule["reason"]["zh"]
            assert f"`{rule['id']}`" in doc
            assert " ".join(rule["when"].split()) in doc, rule["id"]  # the doc shows the rule


def test_evaluate_prints_per_attack_figures_and_the_floors(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    args = ["evaluate", "--days", "6", "--warmup", "3", "--users", "2000", "--json", str(out)]
    result = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "brushing" in result.output
    assert "false positives" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert {"brushing", "coupon_abuse"} <= set(data["attacks"])
    assert data["attacks"]["brushing"]["events"] > 0
    assert 0 <= data["attacks"]["coupon_abuse"]["caught"] <= 1
    assert data["cod"]["cod_orders"] > 0
    assert set(data["floors"]) >= {"brushing >= 95% caught", "coupon_abuse >= 90% caught"}


def test_evaluate_refuses_a_folder_without_events(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["evaluate", "--events", str(tmp_path)])
    assert result.exit_code == 2
    assert "events.jsonl" in result.output


def test_evaluate_refuses_bad_options(tmp_path: Path) -> None:
    wrong = tmp_path / "rules"
    wrong.mkdir()
    (wrong / "order.yaml").write_text(starter_rulesets()["login"], encoding="utf-8")
    for args, said in (
        (["--days", "5", "--warmup", "5"], "--warmup"),
        (["--rules", str(wrong)], "for the login checkpoint"),
    ):
        result = CliRunner().invoke(cli, ["evaluate", *args], env={"COLUMNS": "200"})
        assert result.exit_code == 2, result.output
        assert said in result.output


def test_evaluate_with_models_compares_rules_alone_with_rules_and_models(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    args = ["evaluate", "--days", "10", "--warmup", "7", "--users", "1500", "--seed", "5"]
    result = CliRunner().invoke(
        cli, [*args, "--models", "--json", str(out)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "rules + models" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    extra = data["with_models"]
    trained = {name: m for name, m in extra["models"].items() if "skipped" not in m}
    assert "order_fraud" in trained
    assert all(m["scored"] > 0 and m["train_rows"] > 0 for m in trained.values())
    same = extra["same_fp"]
    # the same-FP threshold never adds a false positive, and never loses a catch
    for cp, rate in data["false_positive_rate"].items():
        assert same["false_positive_rate"][cp] == rate, cp
    for attack, row in data["attacks"].items():
        assert same["attacks"][attack]["caught"] >= row["caught"], attack
    assert same["cod"]["accepted_parcels_switched"] == data["cod"]["accepted_parcels_switched"]
    assert same["cod"]["refusal_rate_after"] <= data["cod"]["refusal_rate_after"]
