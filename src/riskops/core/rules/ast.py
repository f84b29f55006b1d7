"""riskops' own rule AST: frozen dataclasses with source positions, and a JSON round trip.

The parser (:mod:`riskops.core.rules.parse`) builds it from CEL text; the type checker, the
Python compiler (live decisions) and the SQL compiler (backtests) read it. The JSON form is how
a compiled rule is stored and shipped: ``to_json(from_json(x)) == x`` for every node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

Scalar: TypeAlias = bool | int | float | str | None

BINARY_OPS = ("||", "&&", "<", "<=", ">", ">=", "==", "!=", "in", "+", "-", "*", "/", "%")
UNARY_OPS = ("!", "-")


@dataclass(frozen=True, slots=True)
class Pos:
    """1-based line and column of a node's first character in the rule text."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Literal:
    value: Scalar
    pos: Pos


@dataclass(frozen=True, slots=True)
class Path:
    """A name or a dotted field path, e.g. ``velocity.user.orders_1h``."""

    parts: tuple[str, ...]
    pos: Pos

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Expr, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class Index:
    target: Expr
    index: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Conditional:
    test: Expr
    then: Expr
    otherwise: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Call:
    """A function call. A method call ``x.f(y)`` is ``Call("f", (x, y), receiver=True)``."""

    function: str
    args: tuple[Expr, ...]
    pos: Pos
    receiver: bool = False


Expr: TypeAlias = Literal | Path | ListExpr | Index | Unary | Binary | Conditional | Call


def to_json(node: Expr) -> dict[str, Any]:
    """A JSON-ready dict of ``node`` (``{"node": kind, ..., "pos": [line, column]}``)."""
    pos = [node.pos.line, node.pos.column]
    match node:
        case Literal(value):
            return {"node": "literal", "value": value, "pos": pos}
        case Path(parts):
            return {"node": "path", "parts": list(parts), "pos": pos}
        case ListExpr(items):
            return {"node": "list", "items": [to_json(i) for i in items], "pos": pos}
        case Index(target, index):
            return {"node": "index", "target": to_json(target), "index": to_json(index), "pos": pos}
        case Unary(op, operand):
            return {"node": "unary", "op": op, "operand": to_json(operand), "pos": pos}
        case Binary(op, left, right):
            return {
                "node": "binary",
                "op": op,
                "left": to_json(left),
                "right": to_json(right),
                "pos": pos,
            }
        case Conditional(test, then, otherwise):
            return {
                "node": "conditional",
                "test": to_json(test),
                "then": to_json(then),
                "otherwise": to_json(otherwise),
                "pos": pos,
            }
        case Call(function, args, _, receiver):
            return {
                "node": "call",
                "function": function,
                "args": [to_json(a) for a in args],
                "receiver": receiver,
                "pos": pos,
            }
    raise TypeError(f"not a rule AST node: {node!r}")  # pragma: no cover


def from_json(data: dict[str, Any]) -> Expr:
    """Inverse of :func:`to_json`; raises ValueError naming what is wrong."""
    try:
        kind = data["node"]
        line, column = data["pos"]
        pos = Pos(int(line), int(column))
        if kind == "literal":
            value = data["value"]
            if value is not None and not isinstance(value, bool | int | float | str):
                raise ValueError(f"literal value of type {type(value).__name__}")
            return Literal(value, pos)
        if kind == "path":
            return Path(tuple(str(p) for p in data["parts"]), pos)
        if kind == "list":
            return ListExpr(tuple(from_json(i) for i in data["items"]), pos)
        if kind == "index":
            return Index(from_json(data["target"]), from_json(data["index"]), pos)
        if kind == "unary":
            if data["op"] not in UNARY_OPS:
                raise ValueError(f"unknown unary operator {data['op']!r}")
            return Unary(data["op"], from_json(data["operand"]), pos)
        if kind == "binary":
            if data["op"] not in BINARY_OPS:
                raise ValueError(f"unknown binary operator {data['op']!r}")
            return Binary(data["op"], from_json(data["left"]), from_json(data["right"]), pos)
        if kind == "conditional":
            return Conditional(
                from_json(data["test"]),
                from_json(data["then"]),
                from_json(data["otherwise"]),
                pos,
            )
        if kind == "call":
            args = tuple(from_json(a) for a in data["args"])
            return Call(str(data["function"]), args, pos, bool(data.get("receiver", False)))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed rule AST node: {exc}") from None
    raise ValueError(f"unknown rule AST node kind {data.get('node')!r}")
