"""The documentation tells the truth: every setting, event type and CLI command is documented,
and the README quickstart's Python twin runs against a real server."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from riskops.config import Settings
from riskops.core.events import CATALOGUE
from tests.integration.servers import ServerPool, create_key, riskops_env

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_table(name: str) -> None:
    assert re.search(rf"^\| `RISKOPS_{name.upper()}` \|", README, re.MULTILINE), name


@pytest.mark.parametrize("event_type", sorted(CATALOGUE))
def test_every_event_type_is_documented(event_type: str) -> None:
    events_md = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert f"| `{event_type}` |" in events_md


def test_readme_names_the_two_commands_and_ci_runs_the_test_one() -> None:
    assert "python3 run.py demo" in README
    assert "python3 run.py test" in README
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 run.py test" in ci


@pytest.mark.parametrize(
    "command",
    [
        "serve",
        "ingest",
        "db upgrade",
        "keys create",
        "schema",
        "rules validate",
        "rules push",
        "rules activate",
        "rules pull",
        "rules versions",
        "lists add",
        "lists remove",
        "lists show",
        "backtest",
        "audit",
        "policy push",
        "policy show",
        "calibrate",
        "credit refresh",
        "train",
    ],
)
def test_cli_commands_are_documented(command: str) -> None:
    cli_md = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert f"riskops {command}" in cli_md
    assert f"riskops {command.split()[0]}" in README


@pytest.fixture
def live_server(tmp_path: Path, pool: ServerPool) -> tuple[str, str]:
    env = riskops_env(tmp_path / "data")
    key = create_key(env, tmp_path)
    server = pool.new("docs", env)
    server.start()
    return server.url, key


def test_the_example_ruleset_is_valid() -> None:
    from riskops.core.decisions.ruleset import load_ruleset

    ruleset = load_ruleset((ROOT / "examples" / "rules_order.yaml").read_text(encoding="utf-8"))
    assert ruleset.checkpoint == "order"


def test_quickstart_example_runs(live_server: tuple[str, str]) -> None:
    url, key = live_server
    spec = importlib.util.spec_from_file_location(
        "quickstart", ROOT / "docs" / "examples" / "quickstart.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    profile = module.main(url, key)
    assert profile["type"] == "user"
    orders = profile["counters"]["order_placed"]["windows"]
    assert orders["1h"] == {"count": 1, "sum": 120000.0, "min": 120000.0, "max": 120000.0}
    links = {(link["type"], link["direction"]) for link in profile["links"]}
    assert {("device", "out"), ("ip", "out"), ("address", "out"), ("merchant", "out")} <= links
