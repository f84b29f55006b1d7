"""The documentation tells the truth: every setting, event type and CLI command is documented,
and the README quickstart's Python twin runs against a real server."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from riskops.config import Settings
from riskops.core.events import CATALOGUE

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


@pytest.mark.parametrize("command", ["serve", "ingest", "db upgrade", "keys create", "schema"])
def test_cli_commands_are_documented(command: str) -> None:
    cli_md = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert f"riskops {command}" in cli_md
    assert f"riskops {command.split()[0]}" in README


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = dict(os.environ)
    env.update({"RISKOPS_DATA_DIR": str(tmp_path / "data"), "RISKOPS_SECRET_KEY": "docs"})
    cli = [sys.executable, "-m", "riskops.cli.main"]
    key = subprocess.run(
        [*cli, "keys", "create", "--name", "docs", "--scope", "ingest", "--scope", "read", "-q"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    port = _free_port()
    proc = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("server did not become ready within 60 s")
        yield url, key
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


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
