"""A real public export: the e-commerce fraud dataset (30k rows, last line truncated), loaded by
`riskops ingest` through the documented column map docs/examples/fraud_data_map.yaml."""

from __future__ import annotations

import csv
import ipaddress
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from riskops.cli.main import app
from riskops.config import Settings
from riskops.services.runtime import build_runtime

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "fraud_ecom_subset" / "fraud_data_first30k.csv"
MAP = ROOT / "docs" / "examples" / "fraud_data_map.yaml"


def _summary(result: Result) -> dict[str, int]:
    """The numbers of the summary tables (ingest counts, accepted by type), by row label."""
    return {
        m.group(1): int(m.group(2).replace(",", ""))
        for m in re.finditer(r"│ ([^│]+?)\s+│\s+([\d,]+) │", result.stderr)
    }


def test_fraud_dataset_loads_exactly_once(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not DATA.exists():
        pytest.skip(f"the shared fraud dataset is not here: {DATA}")
    for name in list(os.environ):
        if name.startswith("RISKOPS_"):
            monkeypatch.delenv(name)
    env = {
        "RISKOPS_DATA_DIR": str(tmp_path / "data"),
        "RISKOPS_DATABASE_URL": sqlite_url,
        "RISKOPS_SECRET_KEY": "test-secret",
        "COLUMNS": "200",
    }
    # what the file holds, read independently of riskops
    with DATA.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    last_line = len(rows) + 1  # the header is line 1
    assert rows[-1]["purchase_time"] == ""  # the truncated last line
    complete = rows[:-1]
    frauds = sum(1 for r in complete if r["class"] == "1")
    first = complete[0]
    rejected_path = tmp_path / "rejected.jsonl"
    runner = CliRunner()
    args = ["ingest", str(DATA), "--map", str(MAP), "--rejected", str(rejected_path)]

    loaded = runner.invoke(app, args, env=env)
    loaded_again = runner.invoke(app, [*args[:-1], str(tmp_path / "rejected-again.jsonl")], env=env)

    # the truncated last line is rejected whole, with its line number and the empty column
    assert loaded.exit_code == 1, loaded.output
    records = [json.loads(line) for line in rejected_path.read_text().splitlines()]
    assert [r["line"] for r in records] == [last_line]
    assert records[0]["problems"][0]["field"] == "purchase_time"
    assert "is empty" in records[0]["problems"][0]["reason"]
    # the counts add up: every row read is either loaded (all its events) or rejected
    counts = _summary(loaded)
    assert counts["rows read"] == len(rows)
    assert counts["user.registered"] + counts["rejected"] == counts["rows read"]
    assert counts["order.placed"] == counts["user.registered"] == len(complete)
    assert counts["label.reported"] == frauds
    assert counts["accepted"] == counts["events"] == 2 * len(complete) + frauds
    assert counts["entity graph: events folded"] == counts["accepted"]
    # loading it again stores nothing new
    assert loaded_again.exit_code == 1
    again = _summary(loaded_again)
    assert (again["accepted"], again["rejected"]) == (0, 1)
    assert again["duplicates (already in the log)"] == counts["accepted"]

    runtime = build_runtime(Settings(data_dir=tmp_path / "data", database_url=sqlite_url,
                                     secret_key="test-secret"))  # fmt: skip
    try:
        with runtime.store.begin() as uow:
            assert uow.events.count() == counts["accepted"]
        order = runtime.ingest.stored(f"fraud-data:order:{first['user_id']}")
        signup = runtime.ingest.stored(f"fraud-data:signup:{first['user_id']}")
        fraud_user = next(r["user_id"] for r in complete if r["class"] == "1")
        label = runtime.ingest.stored(f"fraud-data:label:{fraud_user}")
        no_label = runtime.ingest.stored(f"fraud-data:label:{first['user_id']}")
    finally:
        runtime.close()
    assert order is not None
    assert signup is not None
    assert label is not None
    assert no_label is None  # class 0: no label
    ip = str(ipaddress.IPv4Address(int(float(first["ip_address"]))))
    expect_order: dict[str, Any] = {
        "market": "US",
        "user_id": first["user_id"],
        "ip": ip,
        "device": {
            "fingerprint": first["device_id"],
            "fingerprint_source": "client",
            "browser": first["browser"],
        },
    }
    assert {k: order[k] for k in expect_order} == expect_order
    assert order["occurred_at"] == "2015-04-18T02:47:00Z"  # 4/18/2015 2:47, read as UTC
    assert order["payload"]["amount"] == float(first["purchase_value"])
    assert (order["payload"]["currency"], order["payload"]["payment_method"]) == ("USD", "card")
    assert signup["occurred_at"] == "2015-02-24T22:55:00Z"
    assert signup["payload"] == {"channel": "search"}  # source SEO
    assert signup["extensions"] == {"sex": first["sex"], "age": int(first["age"])}
    assert label["payload"]["label"] == "fraud"
    assert label["payload"]["target_event_id"] == f"fraud-data:order:{fraud_user}"
