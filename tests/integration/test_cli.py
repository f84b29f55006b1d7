"""The `riskops` command line on the embedded default: db upgrade, keys, schema, and ingest of
JSONL, CSV and Parquet files (with column maps), exactly once, with exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import Result
from typer.testing import CliRunner

from riskops.api.app import create_app
from riskops.cli.main import app
from riskops.config import Settings
from riskops.services.runtime import Runtime, build_runtime
from tests.factories import event, iso
from tests.integration.testclient import TestClient

# The CLI runs on the system clock: events an hour old are neither too old nor in the future.
RECENT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@dataclass
class Cli:
    tmp: Path
    env: dict[str, str]
    runner: CliRunner

    def __call__(self, *args: str | Path) -> Result:
        return self.runner.invoke(app, [str(a) for a in args], env=self.env)

    def settings(self) -> Settings:
        return Settings(
            data_dir=Path(self.env["RISKOPS_DATA_DIR"]),
            database_url=self.env["RISKOPS_DATABASE_URL"],
            secret_key=self.env["RISKOPS_SECRET_KEY"],
        )

    def runtime(self) -> Runtime:
        return build_runtime(self.settings())

    def stored(self, event_id: str) -> dict[str, Any] | None:
        rt = self.runtime()
        try:
            return rt.ingest.stored(event_id)
        finally:
            rt.close()

    def logged(self) -> int:
        rt = self.runtime()
        try:
            with rt.store.begin() as uow:
                return uow.events.count()
        finally:
            rt.close()


@pytest.fixture
def cli(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    for name in list(os.environ):
        if name.startswith("RISKOPS_"):
            monkeypatch.delenv(name)
    env = {
        "RISKOPS_DATA_DIR": str(tmp_path / "data"),
        "RISKOPS_DATABASE_URL": sqlite_url,
        "RISKOPS_SECRET_KEY": "test-secret",
        "COLUMNS": "200",  # rich tables unwrapped, so they can be read back
    }
    return Cli(tmp_path, env, CliRunner())


def summary(result: Result) -> dict[str, int]:
    """The numbers of the ingest summary table, by row label."""
    out: dict[str, int] = {}
    for match in re.finditer(r"│ ([^│]+?)\s+│\s+([\d,]+) │", result.stderr):
        out[match.group(1)] = int(match.group(2).replace(",", ""))
    return out


def rejected(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_jsonl(path: Path, events: list[dict[str, Any]], tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(json.dumps(e).encode() + b"\n" for e in events) + tail)
    return path


# --- db upgrade, keys, schema -----------------------------------------------------------------


def test_db_upgrade_creates_the_schema_then_is_a_no_op(cli: Cli) -> None:
    def row(result: Result) -> list[str]:
        line = next(line for line in result.stdout.splitlines() if "sqlite" in line)
        return [cell.strip() for cell in line.strip("│ ").split("│")]

    first = cli("db", "upgrade")
    second = cli("db", "upgrade")

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    _, before, now = row(first)
    assert before == "(empty)"
    assert now
    assert row(second)[1:] == [now, now]


def test_keys_create_quiet_prints_a_token_the_api_accepts(cli: Cli) -> None:
    created = cli("keys", "create", "--name", "checkout", "-q")

    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert created.stdout == token + "\n"
    assert token.startswith("rko_")
    with TestClient(create_app(runtime=cli.runtime())) as client:
        headers = {"Authorization": f"Bearer {token}"}
        sent = client.post("/v1/events", json=event(at=RECENT, event_id="evt-cli"), headers=headers)
        read = client.get("/v1/events/evt-cli", headers=headers)
    assert sent.status_code == 201
    assert read.status_code == 200


def test_keys_list_shows_keys_but_never_secrets_and_revoke_locks_out(cli: Cli) -> None:
    token = cli("keys", "create", "-n", "ops", "-s", "read", "-s", "admin", "-q").stdout.strip()
    key_id, secret = token.split("_")[1], token.split("_", 2)[2]

    listed = cli("keys", "list")
    revoked = cli("keys", "revoke", key_id)
    listed_after = cli("keys", "list")

    assert listed.exit_code == 0
    assert key_id in listed.stdout
    assert "read, admin" in listed.stdout
    assert secret not in listed.stdout
    assert revoked.exit_code == 0, revoked.output
    assert re.search(rf"{key_id}.*\d\d:\d\d:\d\d.*\d\d:\d\d:\d\d", listed_after.stdout)
    with TestClient(create_app(runtime=cli.runtime())) as client:
        response = client.get("/v1/events/x", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["keys", "create", "-n", "x", "-s", "superuser"], "scopes", id="bad-scope"),
        pytest.param(["keys", "create", "-n", "  "], "name", id="blank-name"),
        pytest.param(["keys", "revoke", "000000000000"], "no active key", id="revoke-unknown"),
    ],
)
def test_bad_key_commands_exit_2_with_the_reason(cli: Cli, args: list[str], message: str) -> None:
    result = cli(*args)

    assert result.exit_code == 2
    assert message in result.stderr


def test_schema_prints_the_catalogue_as_json_schema(cli: Cli, tmp_path: Path) -> None:
    printed = cli("schema")
    written = cli("schema", "--out", tmp_path / "schema.json")
    types = cli("schema", "--types")

    assert printed.exit_code == 0
    schema = json.loads(printed.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "order.placed" in schema["properties"]["type"]["enum"]
    assert written.exit_code == 0
    assert json.loads((tmp_path / "schema.json").read_text()) == schema
    assert "order.placed" in types.stdout
    assert "label.reported" in types.stdout


def test_schema_accepts_valid_events_and_refuses_invalid_ones(cli: Cli) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    schema = json.loads(cli("schema").stdout)
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    valid = [event(t) for t in ("order.placed", "login.failed", "page.viewed", "user.registered")]
    missing_market = event()
    del missing_market["market"]
    wrong_payload = event()
    wrong_payload["payload"]["items"] = "none"

    assert [list(validator.iter_errors(e)) for e in valid] == [[]] * len(valid)
    assert not validator.is_valid(missing_market)
    assert not validator.is_valid(wrong_payload)
    assert not validator.is_valid(event(type="order.teleported"))


# --- ingest: JSONL ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "workers", [pytest.param("0", id="in-process"), pytest.param("1", id="worker")]
)
def test_ingest_jsonl_then_again_gives_only_duplicates(cli: Cli, workers: str) -> None:
    file = write_jsonl(
        cli.tmp / "events.jsonl",
        [event(at=RECENT + timedelta(seconds=i), event_id=f"evt-{i}") for i in range(5)],
    )

    first = cli("ingest", file, "--workers", workers, "--chunk", "2")
    again = cli("ingest", file, "--workers", workers, "--chunk", "2")

    assert first.exit_code == 0, first.output
    expected = {
        "rows read": 5,
        "events": 5,
        "accepted": 5,
        "duplicates (already in the log)": 0,
        "rejected": 0,
        "entity graph: events folded": 5,
    }
    assert {label: summary(first).get(label) for label in expected} == expected
    assert "order.placed" in first.stderr  # accepted by type
    assert again.exit_code == 0, again.output
    assert summary(again)["accepted"] == 0
    assert summary(again)["duplicates (already in the log)"] == 5
    assert cli.logged() == 5
    assert not (cli.tmp / "events.jsonl.rejected.jsonl").exists()


def test_ingest_jsonl_rejects_a_truncated_last_line_with_its_number(cli: Cli) -> None:
    file = write_jsonl(
        cli.tmp / "cut.jsonl",
        [event(at=RECENT, event_id="evt-a"), event(at=RECENT, event_id="evt-b")],
        tail=b'\n{"event_id": "evt-c", "type": "order.pl',
    )

    first = cli("ingest", file)
    again = cli("ingest", file)

    assert first.exit_code == 1
    assert "1 rejected rows" in first.stderr
    (record,) = rejected(cli.tmp / "cut.jsonl.rejected.jsonl")
    assert record["line"] == 4  # line 3 is blank
    assert record["problems"] == [
        {"field": "line", "reason": "truncated last line (no newline, incomplete JSON)"}
    ]
    assert record["row"].startswith('{"event_id": "evt-c"')
    assert summary(first)["rows read"] == 3
    assert (summary(first)["accepted"], summary(first)["rejected"]) == (2, 1)
    assert again.exit_code == 1
    assert (summary(again)["duplicates (already in the log)"], summary(again)["rejected"]) == (2, 1)
    assert cli.logged() == 2


def test_ingest_accepts_a_complete_last_line_without_newline(cli: Cli) -> None:
    file = cli.tmp / "no-newline.jsonl"
    file.write_text(json.dumps(event(at=RECENT, event_id="evt-last")))

    result = cli("ingest", file)

    assert result.exit_code == 0, result.output
    assert cli.stored("evt-last") is not None


def _line(**changes: Any) -> bytes:
    body = event(at=RECENT, event_id="evt-bad")
    body.update(changes)
    return json.dumps(body).encode()


def _without(name: str) -> bytes:
    body = event(at=RECENT, event_id="evt-bad")
    del body[name]
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        pytest.param(b'{"event_id": "x",, }', "line", "invalid JSON", id="invalid-json"),
        pytest.param(b'{"event_id": "caf\xe9"}', "line", "invalid UTF-8", id="invalid-utf8"),
        pytest.param(b"[1, 2]", "body", "must be a JSON object, not list", id="not-an-object"),
        pytest.param(_without("market"), "market", "is required", id="missing-market"),
        pytest.param(_line(type="order.teleported"), "type", "unknown event type", id="bad-type"),
        pytest.param(
            _line(occurred_at="2026-01-01T10:00:00"), "occurred_at", "must carry a time zone",
            id="no-zone",
        ),
        pytest.param(
            _line(occurred_at=iso(datetime.now(UTC) + timedelta(days=1))), "occurred_at",
            "in the future", id="future",
        ),
        pytest.param(
            _line(payload={"order_id": "o-1"}), "payload.items", "is required",
            id="missing-payload-field",
        ),
    ],
)  # fmt: skip
def test_ingest_writes_each_bad_line_with_number_field_and_reason(
    cli: Cli, line: bytes, field: str, reason: str
) -> None:
    file = cli.tmp / "mixed.jsonl"
    good = [event(at=RECENT, event_id="evt-1"), event(at=RECENT, event_id="evt-2")]
    file.write_bytes(b"\n".join([json.dumps(good[0]).encode(), line, json.dumps(good[1]).encode()]))
    rejected_path = cli.tmp / "out" / "bad-rows.jsonl"

    result = cli("ingest", file, "--rejected", rejected_path)

    assert result.exit_code == 1
    (record,) = rejected(rejected_path)
    assert record["line"] == 2
    problem = next(p for p in record["problems"] if p["field"] == field)
    assert reason in problem["reason"]
    assert (summary(result)["accepted"], summary(result)["rejected"]) == (2, 1)
    assert cli.logged() == 2


# --- ingest: CSV and Parquet with column maps ---------------------------------------------------

SHOP_MAP = """
# a shop's own order export: its own column names, day-first dates, Jakarta local time
timezone: Asia/Jakarta
date_format: "%d/%m/%Y %H:%M"
events:
  - type: order.placed
    when: {column: status, in: [paid, shipped]}
    fields:
      occurred_at: created
      market: {const: ID}
      user_id: buyer
      ip: {column: ip_num, type: ipv4_int}
      payload.order_id: order_no
      payload.currency: {const: IDR}
      payload.payment_method: {column: pay, map: {COD: cod, CC: card}, default: other}
      payload.items.0.sku: sku
      payload.items.0.merchant_id: {const: shop-1}
      payload.items.0.price: {column: price, type: float}
      payload.items.0.qty: {column: qty, type: int}
"""

SHOP_CSV = (
    "order_no,created,buyer,ip_num,pay,sku,price,qty,status\n"
    "A-1,{d1},b-1,3405803783,COD,sku-9,120000,1,paid\n"
    "A-2,{d2},b-2,3405803784,CC,sku-9,50000.5,2,shipped\n"
    "A-3,{d1},b-3,3405803785,COD,sku-9,1000,1,cancelled\n"
    "A-4,{d1},b-1,3405803783,BNPL,sku-9,cheap,1,paid\n"
    "A-5,{d1},b-1,3405803783,COD,sku-9\n"
    "A-6,31/02/2026 10:00,b-1,3405803783,COD,sku-9,10,1,paid\n"
    "A-7,{d1},b-4,3405803783,COD,sku-9,10"
)


def _local(moment: datetime) -> str:
    """`moment` as the shop writes it: Jakarta wall time (UTC+7), day first."""
    return (moment + timedelta(hours=7)).strftime("%d/%m/%Y %H:%M")


def test_ingest_csv_through_a_column_map(cli: Cli) -> None:
    (cli.tmp / "shop.yaml").write_text(SHOP_MAP)
    d1, d2 = RECENT.replace(second=0), RECENT.replace(second=0) + timedelta(minutes=5)
    file = cli.tmp / "orders.csv"
    file.write_text(SHOP_CSV.format(d1=_local(d1), d2=_local(d2)))

    first = cli("ingest", file, "--map", cli.tmp / "shop.yaml")
    again = cli("ingest", file, "--map", cli.tmp / "shop.yaml")

    assert first.exit_code == 1, first.output
    assert summary(first)["rows read"] == 7
    assert (summary(first)["events"], summary(first)["accepted"]) == (2, 2)  # A-3 filtered out
    assert summary(first)["rejected"] == 4
    problems = {
        r["line"]: r["problems"][0] for r in rejected(cli.tmp / "orders.csv.rejected.jsonl")
    }
    assert problems[5]["field"] == "payload.items.0.price"
    assert "cannot read 'cheap' as float" in problems[5]["reason"]
    assert problems[6] == {"field": "line", "reason": "row has 6 of 9 columns"}
    assert problems[7]["field"] == "occurred_at"
    assert "31/02/2026 10:00" in problems[7]["reason"]
    assert problems[8] == {
        "field": "line",
        "reason": "row has 7 of 9 columns (truncated last line)",
    }
    assert again.exit_code == 1
    assert summary(again)["duplicates (already in the log)"] == 2
    assert summary(again)["accepted"] == 0
    assert cli.logged() == 2
    runtime = cli.runtime()
    token = runtime.keys.create("t", ["read"]).token
    with TestClient(create_app(runtime=runtime)) as client:
        user = client.get(
            "/v1/entities/user/b-2", headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert user["first_seen"] == iso(d2)  # 5 minutes past d1, read as UTC+7 wall time
    assert user["counters"]["order_placed"]["windows"]["24h"]["sum"] == 100001.0
    links = {(link["type"], link["id"]) for link in user["links"]}
    assert ("ip", "203.0.113.8") in links


def test_a_required_empty_cell_rejects_the_whole_row(cli: Cli) -> None:
    (cli.tmp / "signups.yaml").write_text(
        "events:\n"
        "  - type: user.registered\n"
        "    fields:\n"
        "      event_id: {template: 'signup-{uid}'}\n"
        "      occurred_at: joined\n"
        "      market: {const: SG}\n"
        "      user_id: uid\n"
        "      payload.email: email\n"
        "  - type: login.succeeded\n"
        "    fields:\n"
        "      event_id: {template: 'login-{uid}'}\n"
        "      occurred_at: {column: first_login, type: datetime, required: true}\n"
        "      market: {const: SG}\n"
        "      user_id: uid\n"
    )
    file = cli.tmp / "signups.csv"
    file.write_text(
        "uid,joined,email,first_login\n"
        f"u-1,{iso(RECENT)},a@example.com,{iso(RECENT + timedelta(minutes=1))}\n"
        f"u-2,{iso(RECENT)},,{iso(RECENT + timedelta(minutes=2))}\n"
        f"u-3,{iso(RECENT)},c@example.com,\n"
    )

    result = cli("ingest", file, "--map", cli.tmp / "signups.yaml")

    assert result.exit_code == 1, result.output
    (record,) = rejected(cli.tmp / "signups.csv.rejected.jsonl")
    assert record["line"] == 4
    assert record["problems"] == [
        {"field": "first_login", "reason": "is empty, and the map requires it (for occurred_at)"}
    ]
    assert (summary(result)["accepted"], summary(result)["rejected"]) == (4, 1)
    assert cli.stored("signup-u-3") is None  # not half-loaded
    u2 = cli.stored("signup-u-2")
    assert u2 is not None
    assert "email" not in u2["payload"]  # an optional empty cell just leaves its field out


def test_ingest_csv_with_another_delimiter(cli: Cli) -> None:
    (cli.tmp / "shop.yaml").write_text(SHOP_MAP)
    file = cli.tmp / "orders.csv"
    file.write_text(
        "order_no;created;buyer;ip_num;pay;sku;price;qty;status\n"
        f"B-1;{_local(RECENT)};b-9;3405803783;CC;sku-1;99,5;1;paid\n"
        f"B-2;{_local(RECENT)};b-9;3405803783;CC;sku-1;99;1;paid\n"
    )

    result = cli("ingest", file, "--map", cli.tmp / "shop.yaml", "--delimiter", ";")

    assert result.exit_code == 1
    assert (summary(result)["accepted"], summary(result)["rejected"]) == (1, 1)
    (record,) = rejected(cli.tmp / "orders.csv.rejected.jsonl")
    assert record["line"] == 2
    assert "cannot read '99,5' as float" in record["problems"][0]["reason"]


def test_ingest_parquet_of_events(cli: Cli) -> None:
    events = [event(at=RECENT, event_id=f"evt-pq-{i}", user=f"u-{i % 2}") for i in range(4)]
    bad = event(at=RECENT, event_id="evt-pq-bad")
    bad["payload"]["currency"] = "rupiah"
    file = cli.tmp / "events.parquet"
    pq.write_table(pa.Table.from_pylist([*events, bad]), file)

    first = cli("ingest", file)
    again = cli("ingest", file)

    assert first.exit_code == 1, first.output
    assert (summary(first)["accepted"], summary(first)["rejected"]) == (4, 1)
    (record,) = rejected(cli.tmp / "events.parquet.rejected.jsonl")
    assert record["line"] == 5
    assert record["problems"][0]["field"] == "payload.currency"
    stored = cli.stored("evt-pq-2")
    assert stored is not None
    assert stored["payload"]["items"] == events[2]["payload"]["items"]
    assert stored["occurred_at"] == iso(RECENT)
    assert summary(again)["duplicates (already in the log)"] == 4


def test_ingest_parquet_through_a_column_map_with_naive_timestamps(cli: Cli) -> None:
    (cli.tmp / "login.yaml").write_text(
        "timezone: Europe/Berlin\n"
        "type: login.failed\n"
        "fields:\n"
        "  event_id: {template: 'login-{attempt}'}\n"
        "  occurred_at: at\n"
        "  market: {const: DE}\n"
        "  user_id: who\n"
        "  payload.reason: why\n"
    )
    wall = RECENT.replace(tzinfo=None, second=0)  # Berlin wall time, no zone in the file
    table = pa.table(
        {
            "attempt": pa.array([1, 2, 3], pa.int64()),
            "at": pa.array([wall, wall, None], pa.timestamp("us")),
            "who": ["u-de", "u-de", "u-de"],
            "why": ["bad_password", None, "locked"],
        }
    )
    file = cli.tmp / "logins.pq"
    pq.write_table(table, file)

    result = cli("ingest", file, "--map", cli.tmp / "login.yaml")

    assert result.exit_code == 1, result.output
    assert (summary(result)["accepted"], summary(result)["rejected"]) == (2, 1)
    (record,) = rejected(cli.tmp / "logins.pq.rejected.jsonl")
    assert (record["line"], record["problems"][0]["field"]) == (3, "occurred_at")
    first = cli.stored("login-1")
    assert first is not None
    assert first["occurred_at"] == iso(wall.replace(tzinfo=ZoneInfo("Europe/Berlin")))
    assert first["payload"] == {"reason": "bad_password"}
    second = cli.stored("login-2")
    assert second is not None
    assert second["payload"] == {}  # an empty cell leaves its field out


def test_ingested_events_are_in_the_served_state(cli: Cli) -> None:
    file = write_jsonl(
        cli.tmp / "events.jsonl",
        [event(at=RECENT + timedelta(minutes=i), device="dev-x", user=f"u-{i}") for i in range(3)],
    )
    token = cli("keys", "create", "-n", "reader", "-s", "read", "-q").stdout.strip()

    assert cli("ingest", file).exit_code == 0
    with TestClient(create_app(runtime=cli.runtime())) as client:
        device = client.get(
            "/v1/entities/device/dev-x", headers={"Authorization": f"Bearer {token}"}
        ).json()

    assert device["events"] == 3
    assert device["users_sharing"]["24h"] == 3
    assert device["counters"]["order_placed"]["windows"]["24h"]["count"] == 3


# --- ingest: bad input exits 2 ------------------------------------------------------------------


@dataclass(frozen=True)
class BadRun:
    file: str  # name under tmp: "missing.jsonl" is not created, "folder.jsonl" is a folder
    map_text: str | None  # None: no --map; "<absent>": --map names a missing file
    message: str


BAD_RUNS = [
    pytest.param(BadRun("missing.jsonl", None, "does not exist"), id="missing-file"),
    pytest.param(BadRun("folder.jsonl", None, "is not a file"), id="folder-not-file"),
    pytest.param(BadRun("events.txt", None, "use .jsonl, .csv or .parquet"), id="unknown-format"),
    pytest.param(BadRun("events.parquet", None, "cannot read the Parquet file"), id="not-parquet"),
    pytest.param(BadRun("events.csv", "<absent>", "cannot read the column map"), id="missing-map"),
    pytest.param(BadRun("events.csv", "events: [", "cannot read the column"), id="map-not-yaml"),
    pytest.param(BadRun("events.csv", "- a\n- b\n", "must be a mapping"), id="map-not-a-mapping"),
    pytest.param(BadRun("events.csv", "events: []", "non-empty list"), id="map-without-events"),
    pytest.param(
        BadRun("events.csv", "type: order.placed\nfields: {user_id: {column: a, type: money}}",
               "events.0.fields.user_id.type"),
        id="map-unknown-value-type",
    ),
    pytest.param(
        BadRun("events.csv", "timezone: Mars/Olympus\ntype: x\nfields: {}", "unknown zone"),
        id="map-unknown-timezone",
    ),
    pytest.param(
        BadRun("events.csv", "type: x\nfields: {user_id: {const: a, required: true}}",
               "only a column spec takes it"),
        id="map-required-on-a-constant",
    ),
]  # fmt: skip


@pytest.mark.parametrize("run", BAD_RUNS)
def test_ingest_bad_input_exits_2_naming_the_problem(cli: Cli, run: BadRun) -> None:
    file = cli.tmp / run.file
    if run.file == "folder.jsonl":
        file.mkdir()
    elif run.file != "missing.jsonl":
        file.write_text("a,b\n1,2\n")
    args: list[str | Path] = ["ingest", file]
    if run.map_text is not None:
        map_path = cli.tmp / "map.yaml"
        if run.map_text != "<absent>":
            map_path.write_text(run.map_text)
        args += ["--map", map_path]

    result = cli(*args)

    assert result.exit_code == 2, result.output
    assert run.message in " ".join(result.stderr.split())
    assert not list(cli.tmp.glob("*.rejected.jsonl"))
    assert cli.logged() == 0


LOGIN_MAP = (
    "type: login.failed\nfields:\n  event_id: id\n  occurred_at: at\n  market: {const: DE}\n"
)


@pytest.mark.parametrize(
    ("last_line", "line", "field", "reason"),
    [
        pytest.param('l-3,"2026-01-01T10:00:00Z",', 4, "line", "row has 3 of 2 columns",
                     id="extra-column"),
        pytest.param("l-3", 4, "line", "row has 1 of 2 columns (truncated last line)",
                     id="short-row"),
        pytest.param('l-3,"2026-01-01T10:0', 4, "line",
                     "truncated last line (it ends inside a quoted field)", id="inside-quotes"),
        pytest.param(  # a record over several lines is reported at its last line
            'l-3,"2026-01-01\nT10:0', 5, "line",
            "truncated last line (it ends inside a quoted field)", id="inside-multiline-quotes",
        ),
        pytest.param("l-3,2026-01-0", 4, "occurred_at", "cannot read '2026-01-0' as datetime",
                     id="inside-an-unquoted-value"),
    ],
)  # fmt: skip
def test_ingest_csv_rejects_a_truncated_last_line(
    cli: Cli, last_line: str, line: int, field: str, reason: str
) -> None:
    (cli.tmp / "login.yaml").write_text(LOGIN_MAP)
    file = cli.tmp / "logins.csv"
    at = iso(RECENT)
    file.write_text(f'id,at\nl-1,{at}\n"l-2","{at}"\n{last_line}')

    result = cli("ingest", file, "--map", cli.tmp / "login.yaml")

    assert result.exit_code == 1
    (record,) = rejected(cli.tmp / "logins.csv.rejected.jsonl")
    assert record["line"] == line
    assert record["problems"][0]["field"] == field
    assert reason in record["problems"][0]["reason"]
    assert cli.stored("l-2") is not None
    assert cli.stored("l-3") is None


def test_ingest_csv_reads_a_complete_last_line_without_newline(cli: Cli) -> None:
    (cli.tmp / "login.yaml").write_text(LOGIN_MAP)
    file = cli.tmp / "logins.csv"
    file.write_text(f'id,at\nl-1,{iso(RECENT)}\n"l-2","{iso(RECENT)}"')

    result = cli("ingest", file, "--map", cli.tmp / "login.yaml")

    assert result.exit_code == 0, result.output
    assert cli.stored("l-2") is not None
