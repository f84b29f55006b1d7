"""Durations, great-circle distance and the absence pattern: the closures and the DuckDB SQL
agree, and bad uses are rejected at type-check time with their position."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import pytest

from riskops.core.rules.evaluate import Context, RuleRuntimeError, compile_rule
from riskops.core.rules.functions import geo_km, not_followed_by, parse_duration
from riskops.core.rules.parse import parse_rule
from riskops.core.rules.sql import compile_sql
from riskops.core.rules.types import RuleTypeError, check_rule

SCHEMA = {"a": "int", "b": "int", "lat": "double", "lon": "double", "s": "string"}


def _both(text: str, fields: dict[str, Any]) -> tuple[Any, Any]:
    expr = parse_rule(text)
    closure = compile_rule(expr)(Context(fields))
    sql = compile_sql(expr, SCHEMA)
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t (a BIGINT, b BIGINT, lat DOUBLE, lon DOUBLE, s VARCHAR)")
        con.execute(
            "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
            [fields.get(k) for k in ("a", "b", "lat", "lon", "s")],
        )
        row = con.execute(f"SELECT {sql} FROM t").fetchone()  # noqa: S608
    assert row is not None
    return closure, row[0]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("1h30m", 5400), ("7d", 604_800), ("1d2h3m4s", 93_784)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    closure, sql = _both(f'duration("{text}")', {})
    assert closure == sql == seconds


@pytest.mark.parametrize("bad", ["", "1x", "h", "1m1h", "-5m", "1.5h"])
def test_bad_durations_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)
    with pytest.raises(RuleTypeError, match="invalid duration"):
        check_rule(parse_rule(f'a > duration("{bad}")'), SCHEMA)


def test_duration_takes_a_literal() -> None:
    with pytest.raises(RuleTypeError, match="text literal") as info:
        check_rule(parse_rule("a > duration(s)"), SCHEMA)
    assert "1:5" in str(info.value)


@pytest.mark.parametrize(
    ("point", "km"),
    [
        ((51.5074, -0.1278, 48.8566, 2.3522), 343.5),  # London - Paris
        ((52.52, 13.405, 48.1351, 11.582), 504.0),  # Berlin - Munich
        ((0.0, 0.0, 0.0, 180.0), math.pi * 6371.0088),  # half the equator
    ],
)
def test_geo_km_agrees_with_the_sql_and_known_distances(
    point: tuple[float, float, float, float], km: float
) -> None:
    assert geo_km(*point) == pytest.approx(km, rel=0.01)
    lat1, lon1, lat2, lon2 = point
    text = f"geo_km(lat, lon, {lat2!r}, {lon2!r})"
    closure, sql = _both(text, {"lat": lat1, "lon": lon1})
    assert closure == pytest.approx(sql, rel=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (None, None, False),  # no A at all
        (None, 10, False),
        (7200, None, True),  # A two hours ago, never a B
        (7200, 9000, True),  # the latest B came before A
        (7200, 60, False),  # B followed A
        (1800, None, False),  # A too recent: it may still be followed
        (3600, None, True),  # exactly N ago
    ],
)
def test_not_followed_by(a: int | None, b: int | None, expected: bool) -> None:
    assert not_followed_by(a, b, 3600) is expected
    text = 'not_followed_by(a, b, duration("1h"))'
    check_rule(parse_rule(text), SCHEMA)
    closure, sql = _both(text, {"a": a, "b": b})
    assert closure is expected
    assert sql is expected


def test_not_followed_by_takes_fields() -> None:
    with pytest.raises(RuleTypeError, match="two fields"):
        check_rule(parse_rule('not_followed_by(1, b, duration("1h"))'), SCHEMA)


def test_number_literals_at_their_limits() -> None:
    with pytest.raises(Exception, match="double range"):
        parse_rule("lat > 1e999")
    closure, sql = _both("007 + a", {"a": 1})  # CEL: a decimal with leading zeros
    assert closure == sql == 8
    expr = parse_rule("abs(a) > 0")
    with pytest.raises(RuleRuntimeError, match="overflow"):
        compile_rule(expr)(Context({"a": -(2**63)}))
    smallest = "(SELECT CAST(-9223372036854775808 AS BIGINT) AS a)"
    query = f"SELECT {compile_sql(expr, SCHEMA)} FROM {smallest}"  # noqa: S608
    with duckdb.connect() as con:
        value = con.execute(query).fetchone()
    assert value == (None,)
