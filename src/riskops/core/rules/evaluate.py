"""Compile a rule AST to Python closures for live decisions.

A compiled rule is called with a :class:`Context` and returns its value. Every node can record
its value in a trace (``{"line:column kind": value}``), which the decision engine stores with
the decision. A rule that fails at run time (a missing field, a division by zero) raises
:class:`RuleRuntimeError` naming the node; the caller records it and applies the checkpoint's
fail mode - it never passes silently.

Regular expressions run on RE2 (linear time: no catastrophic backtracking).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import re2

from riskops.core.rules.ast import (
    Binary,
    Call,
    Conditional,
    Expr,
    Index,
    ListExpr,
    Literal,
    Path,
    Pos,
    Unary,
)
from riskops.core.rules.functions import geo_km, not_followed_by, parse_duration

MISSING = object()


class RuleRuntimeError(ValueError):
    def __init__(self, message: str, pos: Pos) -> None:
        super().__init__(f"{pos}: {message}")
        self.message = message
        self.pos = pos


@dataclass(slots=True)
class Context:
    """What a rule can see: dotted field values, list membership, and a trace to fill."""

    fields: Mapping[str, Any]
    lists: Callable[[str, str], bool] = lambda _name, _value: False
    trace: dict[str, Any] | None = field(default=None)


Compiled = Callable[[Context], Any]


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    return re2.compile(pattern)


def _traced(node: Expr, kind: str, fn: Compiled, traced: bool) -> Compiled:
    if not traced:
        return fn
    key = f"{node.pos} {kind}"

    def run(ctx: Context) -> Any:
        value = fn(ctx)
        if ctx.trace is not None:
            ctx.trace[key] = value
        return value

    return run


def compile_rule(node: Expr, traced: bool = True) -> Compiled:
    """The closure of ``node`` (type-check it first: compiling assumes a well-typed rule).
    ``traced=False`` leaves out the trace recording (the same values, faster)."""
    match node:
        case Literal(value):
            return lambda _ctx: value
        case Path():
            name, pos = node.dotted, node.pos

            def get(ctx: Context) -> Any:
                value = ctx.fields.get(name, MISSING)
                if value is MISSING:
                    raise RuleRuntimeError(f"field {name!r} is missing", pos)
                return value

            return _traced(node, name, get, traced)
        case ListExpr(items):
            parts = [compile_rule(i, traced) for i in items]
            return lambda ctx: [p(ctx) for p in parts]
        case Index(target, index):
            t, i = compile_rule(target, traced), compile_rule(index, traced)

            def at(ctx: Context) -> Any:
                seq, k = _present(t(ctx), "[]", node.pos), _present(i(ctx), "[]", node.pos)
                if not -len(seq) <= k < len(seq):
                    raise RuleRuntimeError(f"index {k} out of range", node.pos)
                return seq[k]

            return at
        case Unary(op, operand):
            inner, pos = compile_rule(operand, traced), node.pos

            def unary(ctx: Context) -> Any:
                value = _present(inner(ctx), op, pos)
                return (not value) if op == "!" else _int_range(-value, pos)

            return unary
        case Binary():
            return _traced(node, node.op, _binary(node, traced), traced)
        case Conditional(test, then, otherwise):
            c, a, b = (compile_rule(x, traced) for x in (test, then, otherwise))
            return lambda ctx: a(ctx) if _present(c(ctx), "?:", node.pos) else b(ctx)
        case Call():
            return _traced(node, f"{node.function}()", _call(node, traced), traced)
    raise TypeError(f"not a rule AST node: {node!r}")  # pragma: no cover


def _present(value: Any, op: str, pos: Pos) -> Any:
    if value is None:
        raise RuleRuntimeError(f"'{op}' on a missing (null) value", pos)
    return value


def _logical(node: Binary, a: Compiled, b: Compiled) -> Compiled:
    """``&&`` / ``||`` as in CEL (and SQL's three-valued logic): evaluated left to right, but
    an error (or null) on one side is absorbed when the other side decides the result."""
    decides: bool = node.op == "||"  # the value that decides: true for ||, false for &&

    def run(ctx: Context) -> bool:
        try:
            left = _present(a(ctx), node.op, node.left.pos)
        except RuleRuntimeError:
            if bool(_present(b(ctx), node.op, node.right.pos)) == decides:
                return decides
            raise
        if bool(left) == decides:
            return decides
        return bool(_present(b(ctx), node.op, node.right.pos))

    return run


def _binary(node: Binary, traced: bool) -> Compiled:
    a, b = compile_rule(node.left, traced), compile_rule(node.right, traced)
    op, pos = node.op, node.pos
    if op in ("&&", "||"):
        return _logical(node, a, b)
    if op in ("/", "%"):

        def divide(ctx: Context) -> Any:
            x, y = _present(a(ctx), op, pos), _present(b(ctx), op, pos)
            if y == 0:
                raise RuleRuntimeError("division by zero", pos)
            if op == "%":  # ints (checked); CEL: the sign follows the dividend
                r = abs(x) % abs(y)
                return r if x >= 0 else -r
            return x / y

        return divide
    fn = _ORDER.get(op) or _ARITH[op]
    if op in ("+", "-", "*"):
        fn = _checked(fn, pos)
    right = node.right
    if not traced and isinstance(right, Literal) and right.value is not None:
        return _with_literal(node, a, fn, right.value)

    def apply(ctx: Context) -> Any:
        return fn(_present(a(ctx), op, pos), _present(b(ctx), op, pos))

    return apply


def _with_literal(node: Binary, a: Compiled, fn: Callable[[Any, Any], Any], lit: Any) -> Compiled:
    """``x OP literal``, the commonest comparison, without evaluating the literal each time;
    with a field on the left, read straight from the context (the same values and errors)."""
    op, pos = node.op, node.pos
    left = node.left
    if isinstance(left, Path):
        name, left_pos = left.dotted, left.pos

        def field_op(ctx: Context) -> Any:
            x = ctx.fields.get(name, MISSING)
            if x is MISSING:
                raise RuleRuntimeError(f"field {name!r} is missing", left_pos)
            if x is None:
                raise RuleRuntimeError(f"'{op}' on a missing (null) value", pos)
            return fn(x, lit)

        return field_op

    def value_op(ctx: Context) -> Any:
        return fn(_present(a(ctx), op, pos), lit)

    return value_op


INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""Ints are 64-bit, as in CEL: a result outside is an error ("int overflow")."""


def _int_range(value: Any, pos: Any) -> Any:
    if type(value) is int and not INT_MIN <= value <= INT_MAX:
        raise RuleRuntimeError("int overflow", pos)
    return value


def _checked(fn: Callable[[Any, Any], Any], pos: Any) -> Callable[[Any, Any], Any]:
    def run(x: Any, y: Any) -> Any:
        return _int_range(fn(x, y), pos)

    return run


_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
# every operator needs values: a null operand is an error (has() tests for a missing value)
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "in": lambda x, y: x in y,
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}


def _call(node: Call, traced: bool) -> Compiled:
    name = node.function
    if name == "has":
        (path,) = node.args
        assert isinstance(path, Path)
        dotted = path.dotted
        return lambda ctx: ctx.fields.get(dotted, MISSING) not in (MISSING, None)
    if name == "duration":  # checked: a valid text literal
        (text,) = node.args
        assert isinstance(text, Literal)
        seconds = parse_duration(str(text.value))
        return lambda _ctx: seconds
    if name == "not_followed_by":  # the two fields may be null (no such event)
        first, second, within = node.args
        assert isinstance(first, Path)
        assert isinstance(second, Path)
        a_path, b_path = first.dotted, second.dotted
        n = compile_rule(within, traced)

        def absent(ctx: Context) -> bool:
            seconds = n(ctx)
            if seconds is None:
                raise RuleRuntimeError("not_followed_by() of a missing (null) duration", node.pos)
            return not_followed_by(ctx.fields.get(a_path), ctx.fields.get(b_path), seconds)

        return absent
    args = [compile_rule(a, traced) for a in node.args]
    if name == "in_list":
        list_name, value = args
        return lambda ctx: bool(ctx.lists(list_name(ctx), value(ctx)))
    fn = _FUNCTIONS[name]

    def call(ctx: Context) -> Any:
        values = [a(ctx) for a in args]
        if any(v is None for v in values):
            raise RuleRuntimeError(f"{name}() of a missing (null) value", node.pos)
        return fn(*values)

    return call


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "size": len,
    "contains": lambda s, sub: sub in s,
    "startsWith": lambda s, p: s.startswith(p),
    "endsWith": lambda s, p: s.endswith(p),
    "matches": lambda s, p: _regex(p).search(s) is not None,
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "abs": lambda x: _int_range(abs(x), None),
    "geo_km": geo_km,
}
