"""Compile a rule AST to a DuckDB SQL expression, for backtests over a table of point-in-time
feature rows (one column per field, named by its dotted path).

The SQL means what the Python closures (:mod:`riskops.core.rules.evaluate`) mean, with SQL
``NULL`` standing for a run-time error: where a closure raises, the SQL value is ``NULL``, and
where the closure returns a value the SQL returns the same one. ``&&`` and ``||`` absorb an
error when the other side decides (``false && error`` and ``error && false`` are both false, as
in CEL and in SQL's three-valued logic). A property test checks the two agree on random rules
and contexts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from riskops.core.rules.ast import (
    Binary,
    Call,
    Conditional,
    Expr,
    Index,
    ListExpr,
    Literal,
    Path,
    Unary,
)
from riskops.core.rules.functions import EARTH_RADIUS_KM, parse_duration
from riskops.core.rules.types import Checker

InList = Callable[[str, str], str]
"""SQL for ``in_list(name, value)`` given the SQL of both arguments."""


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if isinstance(value, int):
        return f"CAST({value} AS BIGINT)"
    if isinstance(value, float):
        return f"CAST({value!r} AS DOUBLE)"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"not a rule literal: {value!r}")  # pragma: no cover


def _no_in_list(_name: str, _value: str) -> str:
    raise ValueError("this backtest has no lists: in_list() cannot be compiled")


def compile_sql(node: Expr, schema: Mapping[str, str], in_list: InList = _no_in_list) -> str:
    """The DuckDB SQL of a rule type-checked against ``schema`` (fields are columns named by
    their path)."""

    def sql(n: Expr) -> str:
        match n:
            case Literal(value):
                return _literal(value)
            case Path():
                return quote_ident(n.dotted)
            case ListExpr(items):
                return "[" + ", ".join(sql(i) for i in items) + "]"
            case Index(target, index):
                t, i = sql(target), sql(index)
                return f"list_extract({t}, CASE WHEN {i} >= 0 THEN {i} + 1 ELSE {i} END)"
            case Unary(op, operand):
                # try(): an int overflow is an error (NULL), as in the closures
                return f"(NOT {sql(operand)})" if op == "!" else f"try(- {sql(operand)})"
            case Binary():
                op = n.op
                if op == "+" and Checker(schema).check(n.left) == "string":
                    op = "||"  # string concatenation
                    return f"({sql(n.left)} || {sql(n.right)})"
                return _binary(op, sql(n.left), sql(n.right))
            case Conditional(test, then, otherwise):
                c = sql(test)
                return (
                    f"(CASE WHEN {c} IS NULL THEN NULL WHEN {c} "
                    f"THEN {sql(then)} ELSE {sql(otherwise)} END)"
                )
            case Call():
                return _call(n, [sql(a) for a in n.args], in_list)
        raise TypeError(f"not a rule AST node: {n!r}")  # pragma: no cover

    return sql(node)


def _binary(op: str, a: str, b: str) -> str:
    if op == "&&":
        return f"({a} AND {b})"
    if op == "||":
        return f"({a} OR {b})"
    if op == "==":
        return f"({a} = {b})"
    if op == "!=":
        return f"({a} <> {b})"
    if op == "in":
        return f"(CASE WHEN {a} IS NULL THEN NULL ELSE list_contains({b}, {a}) END)"
    if op == "/":
        return f"(CASE WHEN {b} = 0 THEN NULL ELSE CAST({a} AS DOUBLE) / {b} END)"
    if op == "%":
        return f"(CASE WHEN {b} = 0 THEN NULL ELSE {a} % {b} END)"
    if op in ("+", "-", "*"):  # try(): an int overflow is an error (NULL), as in the closures
        return f"try({a} {op} {b})"
    return f"({a} {op} {b})"  # < <= > >=: NULL in, NULL out


_FUNCTIONS: dict[str, Callable[[list[str]], str]] = {
    "contains": lambda a: f"contains({a[0]}, {a[1]})",
    "startsWith": lambda a: f"starts_with({a[0]}, {a[1]})",
    "endsWith": lambda a: f"ends_with({a[0]}, {a[1]})",
    "matches": lambda a: f"regexp_matches({a[0]}, {a[1]})",  # RE2, as the closures
    "lower": lambda a: f"lower({a[0]})",
    "upper": lambda a: f"upper({a[0]})",
    "abs": lambda a: f"try(abs({a[0]}))",  # abs(-2**63) overflows: an error, as in closures
}


def _call(node: Call, args: list[str], in_list: InList) -> str:
    name = node.function
    if name == "has":
        return f"({args[0]} IS NOT NULL)"
    if name == "in_list":
        return in_list(args[0], args[1])
    if name == "size":
        return f"length({args[0]})"  # characters of a string, items of a list
    if name == "duration":  # checked: a valid text literal
        text = node.args[0]
        assert isinstance(text, Literal)
        return f"CAST({parse_duration(str(text.value))} AS BIGINT)"
    if name == "not_followed_by":
        a, b, n = args
        return (
            f"(CASE WHEN {a} IS NULL THEN FALSE WHEN {n} IS NULL THEN NULL "
            f"ELSE {a} >= {n} AND ({b} IS NULL OR {b} > {a}) END)"
        )
    if name == "geo_km":
        lat1, lon1, lat2, lon2 = (f"radians({x})" for x in args)
        h = (
            f"pow(sin(({lat2} - {lat1}) / 2), 2) + cos({lat1}) * cos({lat2}) * "
            f"pow(sin(({lon2} - {lon1}) / 2), 2)"
        )
        return f"(2 * {EARTH_RADIUS_KM!r} * asin(sqrt(least(1.0, {h}))))"
    return _FUNCTIONS[name](args)
