"""The DuckDB SQL of a rule means what its Python closure means: on random well-typed rules and
random contexts (nulls included), the closure's value equals the SQL value, and a closure that
fails at run time is a SQL NULL."""

from __future__ import annotations

import math
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskops.core.rules.evaluate import Context, RuleRuntimeError, compile_rule
from riskops.core.rules.parse import parse_rule
from riskops.core.rules.sql import compile_sql
from riskops.core.rules.types import Checker

SCHEMA = {
    "a": "int",
    "b": "int",
    "x": "double",
    "s": "string",
    "t": "string",
    "flag": "bool",
    "tags": "list<string>",
}
COLUMNS = {
    "a": "BIGINT",
    "b": "BIGINT",
    "x": "DOUBLE",
    "s": "VARCHAR",
    "t": "VARCHAR",
    "flag": "BOOLEAN",
    "tags": "VARCHAR[]",
}
WORDS = ["", "a", "ab", "b'c", 'q"x', "é", "AbC"]


def _str_lit(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


ints = st.one_of(st.sampled_from(["a", "b"]), st.integers(-50, 50).map(str), st.just("size(s)"))
strings = st.recursive(
    st.one_of(st.sampled_from(["s", "t"]), st.sampled_from(WORDS).map(_str_lit)),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"({p[0]} + {p[1]})"),
        inner.map(lambda e: f"({e}).lower()"),
        inner.map(lambda e: f"({e}).upper()"),
    ),
    max_leaves=3,
)
numbers = st.recursive(
    st.one_of(ints, st.sampled_from(["x", "1.5", "0.0", "2.25"])),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from("+-*/"), inner).map(lambda p: f"({p[0]} {p[1]} {p[2]})"),
        st.tuples(ints, ints).map(lambda p: f"({p[0]} % {p[1]})"),
        inner.map(lambda e: f"abs({e})"),
        inner.map(lambda e: f"(-({e}))"),
    ),
    max_leaves=4,
)


def _booleans(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(["&&", "||"]), inner).map(
            lambda p: f"({p[0]} {p[1]} {p[2]})"
        ),
        inner.map(lambda e: f"!({e})"),
        st.tuples(inner, inner, inner).map(lambda p: f"({p[0]} ? {p[1]} : {p[2]})"),
    )


bool_leaves = st.one_of(
    st.sampled_from(["flag", "true", "false", "has(s)", "has(flag)"]),
    st.tuples(numbers, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), numbers).map(
        lambda p: f"({p[0]} {p[1]} {p[2]})"
    ),
    st.tuples(strings, st.sampled_from(["<", "==", "!="]), strings).map(
        lambda p: f"({p[0]} {p[1]} {p[2]})"
    ),
    st.tuples(strings, st.sampled_from(["contains", "startsWith", "endsWith"]), strings).map(
        lambda p: f"({p[0]}).{p[1]}({p[2]})"
    ),
    strings.map(lambda e: f'({e}).matches("^[a-c]+$")'),
    strings.map(lambda e: f"({e} in tags)"),
    strings.map(lambda e: f'({e} in ["a", "é"])'),
)
booleans = st.recursive(bool_leaves, _booleans, max_leaves=5)

contexts = st.fixed_dictionaries(
    {
        "a": st.none() | st.integers(-1000, 1000),
        "b": st.none() | st.integers(-1000, 1000),
        "x": st.none() | st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 3)),
        "s": st.none() | st.sampled_from(WORDS),
        "t": st.none() | st.sampled_from(WORDS),
        "flag": st.none() | st.booleans(),
        "tags": st.none() | st.lists(st.sampled_from(WORDS), max_size=3),
    }
)


@pytest.fixture(scope="module")
def db() -> Any:
    con = duckdb.connect()
    yield con
    con.close()


def _closure_value(text: str, ctx: dict[str, Any]) -> Any:
    try:
        return compile_rule(parse_rule(text))(Context(ctx))
    except RuleRuntimeError:
        return None


def _sql_value(db: Any, text: str, ctx: dict[str, Any]) -> Any:
    sql = compile_sql(parse_rule(text), SCHEMA)
    row = ", ".join(f'CAST(? AS {COLUMNS[k]}) AS "{k}"' for k in COLUMNS)
    return db.execute(f"SELECT {sql} FROM (SELECT {row})", [ctx[k] for k in COLUMNS]).fetchone()[0]  # noqa: S608


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return (bool(a == b) and type(a) is type(b)) or (a is None and b is None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=booleans, ctx=contexts)
def test_sql_agrees_with_closures_on_rules(db: Any, text: str, ctx: dict[str, Any]) -> None:
    assert Checker(SCHEMA).check(parse_rule(text)) == "bool"
    closure, sql = _closure_value(text, ctx), _sql_value(db, text, ctx)
    assert _same(closure, sql), (text, ctx, closure, sql)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(numbers, strings), ctx=contexts)
def test_sql_agrees_with_closures_on_values(db: Any, text: str, ctx: dict[str, Any]) -> None:
    closure, sql = _closure_value(text, ctx), _sql_value(db, text, ctx)
    if isinstance(closure, int) and isinstance(sql, float):  # e.g. abs() of an int in SQL
        sql = int(sql) if sql.is_integer() else sql
    assert _same(closure, sql) or (
        isinstance(closure, int | float)
        and isinstance(sql, int | float)
        and _same(float(closure), float(sql))
    ), (text, ctx, closure, sql)


def test_in_list_compiles_through_the_callback() -> None:
    sql = compile_sql(
        parse_rule("in_list('blocked', s)"), SCHEMA, lambda n, v: f"my_lists({n}, {v})"
    )
    assert sql == "my_lists('blocked', \"s\")"


def _outcome(compiled: Any, ctx: dict[str, Any]) -> Any:
    try:
        return ("value", compiled(Context(ctx)))
    except RuleRuntimeError as exc:
        return ("error", str(exc))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(booleans, numbers, strings), ctx=contexts)
def test_untraced_closures_mean_what_traced_ones_mean(text: str, ctx: dict[str, Any]) -> None:
    """The served (untraced, specialised) closures give the same values and the same errors as
    the traced ones that rebuild a decision's trace."""
    expr = parse_rule(text)
    fast, traced = (
        _outcome(compile_rule(expr, traced=False), ctx),
        _outcome(compile_rule(expr), ctx),
    )
    assert fast == traced or (fast[0] == traced[0] == "value" and _same(fast[1], traced[1])), (
        text,
        ctx,
        fast,
        traced,
    )
