"""`riskops train` on a platform's own labelled export: an order export with a fraud flag, in
the format of the public e-commerce fraud dataset (one signup and one order per user), loaded
by `riskops ingest` through docs/examples/fraud_data_map.yaml, trained with chosen features
(`--feature`), registered and promoted.

A synthetic export, written by the test, carries one injected signal - fraud accounts come in
rings of five that share a device - and the model must find it on the latest rows. The real
30k-row subset (skipped where the shared data folder is absent) checks that its labels, dated
at the purchase, are joined, and the figures measured on it."""

from __future__ import annotations

import csv
import os
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from riskops.cli.main import app
from riskops.core.models.features import MODELS
from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.models.registry import ModelRegistry
from riskops.services.models.train import model_spec

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "docs" / "examples" / "fraud_data_map.yaml"
REAL = ROOT.parent / "shared" / "data" / "fraud_ecom_subset" / "fraud_data_first30k.csv"
HEADER = [
    "user_id", "signup_time", "purchase_time", "purchase_value", "device_id", "source",
    "browser", "sex", "age", "ip_address", "class",
]  # fmt: skip
START = datetime(2015, 3, 1, tzinfo=UTC)
SYNTHETIC_FEATURES = (
    "graph.device.distinct_users_30d",
    "last.user.registrations",
    "event.amount",
    "event.hour",
)
REAL_FEATURES = (
    "graph.device.distinct_users_24h",
    "graph.ip.distinct_users_24h",
    "last.user.registrations",
    "event.amount",
    "event.hour",
)
"""The features the README's walk-through trains with."""


def _when(moment: datetime) -> str:
    """The export's time format: month/day/year, 24-hour clock, no zero padding but minutes."""
    return f"{moment.month}/{moment.day}/{moment.year} {moment.hour}:{moment.minute:02d}"


def _row(rng: random.Random, user: int, signup: datetime, device: str, fraud: bool) -> list[str]:
    # every account, ring member or not, waits the same way to buy and buys the same amounts:
    # the only thing that tells fraud apart is the shared device
    purchase = signup + timedelta(minutes=rng.randint(60, 10 * 24 * 60))
    ip = rng.randint(16_777_216, 3_758_096_383) + rng.random()
    return [
        str(user), _when(signup), _when(purchase), str(rng.randint(9, 120)), device,
        rng.choice(["SEO", "Ads", "Direct"]), rng.choice(["Chrome", "Safari", "FireFox"]),
        rng.choice("MF"), str(rng.randint(18, 70)), f"{ip:.1f}", "1" if fraud else "0",
    ]  # fmt: skip


def write_export(path: Path, *, honest: int, rings: int, seed: int = 11) -> int:
    """An export of ``honest`` accounts on devices of their own and ``rings`` rings of five
    fraud accounts sharing one device (signed up within an hour of each other), spread over
    60 days; returns the number of fraud rows."""
    rng = random.Random(seed)
    rows: list[list[str]] = []
    for i in range(honest):
        signup = START + timedelta(minutes=rng.randint(0, 60 * 24 * 60))
        rows.append(_row(rng, 100_000 + i, signup, f"DEV{i:06d}", fraud=False))
    for r in range(rings):
        first = START + timedelta(minutes=rng.randint(0, 60 * 24 * 60))
        for k in range(5):
            signup = first + timedelta(minutes=rng.randint(0, 60))
            rows.append(_row(rng, 500_000 + 5 * r + k, signup, f"RING{r:04d}", fraud=True))
    rng.shuffle(rows)  # an export is in no particular order
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return 5 * rings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh data dir (its own SQLite log and registry), nothing from the caller's shell."""
    for name in list(os.environ):
        if name.startswith("RISKOPS_"):
            monkeypatch.delenv(name)
    return {"RISKOPS_DATA_DIR": str(tmp_path / "data"), "RISKOPS_SECRET_KEY": "test-secret",
            "COLUMNS": "220"}  # fmt: skip


def _ingest(runner: CliRunner, env: dict[str, str], export: Path, rejected: Path) -> Result:
    return runner.invoke(
        app, ["ingest", str(export), "--map", str(MAP), "--rejected", str(rejected)], env=env
    )


def _train(runner: CliRunner, env: dict[str, str], features: Any, *extra: str) -> Result:
    args = ["train", "--model", "order_fraud", "--label", "fraud", *extra]
    for path in features:
        args += ["--feature", path]
    return runner.invoke(app, args, env=env)


def _table_rows(output: str) -> list[list[str]]:
    """The body rows of the metrics table: its cells, stripped."""
    return [
        [c.strip() for c in line.strip("│ ").split("│")]
        for line in output.splitlines()
        if re.match(r"│ (train|calibration|test) ", line)
    ]


def _any_rows(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["part"]: m for m in meta["metrics"] if m["label"] == "any"}


def test_own_export_is_ingested_trained_on_chosen_features_and_promoted(
    tmp_path: Path, env: dict[str, str]
) -> None:
    export = tmp_path / "orders.csv"
    frauds = write_export(export, honest=2_000, rings=80)
    runner = CliRunner()

    loaded = _ingest(runner, env, export, tmp_path / "rejected.jsonl")
    trained = _train(runner, env, SYNTHETIC_FEATURES)
    promoted = runner.invoke(app, ["models", "promote", "order_fraud", "v1"], env=env)

    assert loaded.exit_code == 0, loaded.output
    assert trained.exit_code == 0, trained.output
    assert promoted.exit_code == 0, promoted.output
    out = trained.output
    assert "positives are events labelled fraud; 4 features" in out
    assert "registered order_fraud v1 as challenger" in out
    for header in ("part", "from", "to", "positives", "base_rate", "auc", "pr_auc",
                   "recall @1% FPR", "brier"):  # fmt: skip
        assert header in out, header
    table = _table_rows(out)
    # one trained kind: one row per part, named by the kind (no repeated "any" rows)
    assert [(r[0], r[1]) for r in table] == [
        ("train", "fraud"),
        ("calibration", "fraud"),
        ("test", "fraud"),
    ]
    assert "brushing" not in out
    registry = ModelRegistry(tmp_path / "data")
    assert registry.champion("order_fraud") == "v1"
    meta = registry.meta("order_fraud", "v1")
    assert meta["features"] == list(SYNTHETIC_FEATURES)
    assert meta["label_kinds"] == ["fraud"]
    parts = _any_rows(meta)
    # every fraud row's label (a label.reported event naming the order) is joined
    assert sum(p["positives"] for p in parts.values()) == frauds
    assert sum(p["rows"] for p in parts.values()) == 2_000 + frauds
    assert [r[4] for r in table] == [f"{parts[p]['rows']:,}" for p in parts]
    # the shared device is what the model learned, and it holds on the latest rows
    assert meta["importances"][0]["feature"] == "graph.device.distinct_users_30d"
    assert parts["test"]["positives"] >= 15
    assert parts["test"]["auc"] >= 0.85
    assert parts["test"]["recall_at_fpr_5pct"] >= 0.5
    loaded_model = registry.load("order_fraud")
    ring, alone = loaded_model.predict_proba(
        [
            {"graph.device.distinct_users_30d": 5, "last.user.registrations": 7_200},
            {"graph.device.distinct_users_30d": 1, "last.user.registrations": 7_200},
        ]
    )
    assert ring > alone


def test_bad_features_are_named_and_nothing_is_trained(tmp_path: Path, env: dict[str, str]) -> None:
    runner = CliRunner()
    bad = _train(
        runner,
        env,
        ["event.amount", "event.time", "velocity.user.nonsense_1h", "ip.address", "event.amount"],
    )
    empty_model = _train(runner, env, ["event.amount"], "--model", "horoscope")

    assert bad.exit_code == 2
    message = " ".join(bad.output.split())  # one message (the terminal may wrap it)
    assert message.startswith("error: --feature: ")
    assert message.count("error") == 1
    for path, reason in [
        ("event.time", "not point-in-time"),
        ("velocity.user.nonsense_1h", "not a field of the order checkpoint's context"),
        ("ip.address", "of type string"),
        ("event.amount", "repeated"),
    ]:
        assert f"{path}: {reason}" in message, (path, message)
    assert "reading the event log" not in bad.output  # refused before the log is read
    assert empty_model.exit_code == 2
    assert "model" in empty_model.output
    assert not (tmp_path / "data" / "models").exists()
    # the same checks in Python: one path may be given as a string; none at all is refused
    assert model_spec("order_fraud", "event.amount").features == ("event.amount",)
    assert model_spec("order_fraud").features == MODELS["order_fraud"].features
    with pytest.raises(AnalyticsInputError) as err:
        model_spec("order_fraud", [])
    assert err.value.field == "features"
    assert err.value.reason == "empty: give at least one feature path"


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], int]]:
    """The real 30k subset ingested once into a fresh data dir; its env and fraud rows."""
    if not REAL.exists():
        pytest.skip(f"the shared fraud dataset is not here: {REAL}")
    folder = tmp_path_factory.mktemp("fraud-data")
    env = {"RISKOPS_DATA_DIR": str(folder / "data"), "RISKOPS_SECRET_KEY": "test-secret",
           "COLUMNS": "220"}  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("RISKOPS_"):
                patch.delenv(name)
        with REAL.open(encoding="utf-8-sig", newline="") as fh:
            frauds = sum(1 for r in csv.DictReader(fh) if r["class"] == "1")
        loaded = _ingest(CliRunner(), env, REAL, folder / "rejected.jsonl")
        assert loaded.exit_code == 1, loaded.output  # the truncated last line only
        yield env, frauds


def test_real_export_labels_are_joined_and_the_drift_is_reported(
    real_log: tuple[dict[str, str], int],
) -> None:
    env, frauds = real_log
    trained = _train(CliRunner(), env, REAL_FEATURES, "--no-register")

    assert trained.exit_code == 0, trained.output
    table = _table_rows(trained.output)
    assert [r[0] for r in table] == ["train", "calibration", "test"]
    positives = sum(int(r[5].replace(",", "")) for r in table)
    rows = sum(int(r[4].replace(",", "")) for r in table)
    assert (rows, positives) == (30_189, frauds)  # every label, dated at the purchase, joined
    # the ring of same-minute purchases is all in January; the test part (October on) has
    # none, and the report says the ranking did not carry forward
    assert "does not carry forward in time" in trained.output
    assert "the base rate moves" in trained.output


def test_real_export_model_of_the_ring_period(real_log: tuple[dict[str, str], int]) -> None:
    env, _ = real_log
    data_dir = Path(env["RISKOPS_DATA_DIR"])
    trained = _train(CliRunner(), env, REAL_FEATURES, "--until", "2015-01-19T00:00:00Z")

    assert trained.exit_code == 0, trained.output
    meta = ModelRegistry(data_dir).meta("order_fraud", "v1")
    test = _any_rows(meta)["test"]
    # measured: 170 rows, 81 positives, AUC 0.951, PR-AUC 0.967, recall 0.889 at 1 % FPR
    assert test["rows"] >= 150
    assert test["positives"] >= 60
    assert test["auc"] >= 0.88
    assert test["pr_auc"] >= 0.88
    assert test["recall_at_fpr_1pct"] >= 0.75
    assert meta["importances"][0]["feature"] == "last.user.registrations"
