"""The type checker: every rule is checked against its checkpoint's context schema before it can
be saved. Unknown fields, unknown functions, wrong argument types and non-boolean rules are
errors with line:column.

Types are ``bool``, ``int``, ``double``, ``string``, ``null``, ``list<T>`` and ``dyn`` (unknown,
accepted anywhere). Unlike strict CEL, ``int`` and ``double`` mix in arithmetic and comparisons
(the result is ``double``): analysts write ``event.amount > 100`` for a double amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
from riskops.core.rules.functions import parse_duration

NUMERIC = frozenset({"int", "double"})
Signature = tuple[tuple[str, ...], str]
"""(argument types, result type); a method's receiver is its first argument."""

FUNCTIONS: dict[str, tuple[bool | None, tuple[Signature, ...]]] = {
    # name: (called as a method / as a function / either (None), signatures)
    "size": (None, ((("string",), "int"), (("list<dyn>",), "int"))),
    "contains": (True, ((("string", "string"), "bool"),)),
    "startsWith": (True, ((("string", "string"), "bool"),)),
    "endsWith": (True, ((("string", "string"), "bool"),)),
    "matches": (True, ((("string", "string"), "bool"),)),
    "lower": (True, ((("string",), "string"),)),
    "upper": (True, ((("string",), "string"),)),
    "in_list": (False, ((("string", "string"), "bool"),)),
    "abs": (False, ((("double",), "double"),)),
    "has": (False, ((("dyn",), "bool"),)),
    "duration": (False, ((("string",), "int"),)),
    "geo_km": (False, ((("double", "double", "double", "double"), "double"),)),
    "not_followed_by": (False, ((("int", "int", "int"), "bool"),)),
}
"""The functions of the language (more join with the decision engine's features)."""


@dataclass(frozen=True, slots=True)
class TypeProblem:
    message: str
    pos: Pos

    def __str__(self) -> str:
        return f"{self.pos}: {self.message}"


class RuleTypeError(ValueError):
    def __init__(self, problems: list[TypeProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def _assignable(actual: str, wanted: str) -> bool:
    if actual == wanted or "dyn" in (actual, wanted):
        return True
    if actual in NUMERIC and wanted in NUMERIC:
        return True
    if actual.startswith("list<") and wanted.startswith("list<"):
        return _assignable(actual[5:-1], wanted[5:-1])
    return actual == "null"  # null is accepted where a value may be absent


class Checker:
    def __init__(self, schema: Mapping[str, str]) -> None:
        self._schema = schema
        self.problems: list[TypeProblem] = []

    def _fail(self, message: str, pos: Pos) -> str:
        self.problems.append(TypeProblem(message, pos))
        return "dyn"

    def check(self, node: Expr) -> str:
        match node:
            case Literal(value):
                if value is None:
                    return "null"
                if type(value) is int and not -(2**63) <= value < 2**63:
                    return self._fail("int literal out of the 64-bit range", node.pos)
                return {bool: "bool", int: "int", float: "double", str: "string"}[type(value)]
            case Path():
                found = self._schema.get(node.dotted)
                if found is None:
                    return self._fail(f"unknown field {node.dotted!r}", node.pos)
                return found
            case ListExpr(items):
                kinds = {self.check(i) for i in items}
                if len(kinds) == 1:
                    return f"list<{kinds.pop()}>"
                if kinds and kinds <= NUMERIC:
                    return "list<double>"
                return "list<dyn>"
            case Index(target, index):
                t, i = self.check(target), self.check(index)
                if not _assignable(i, "int"):
                    return self._fail(f"a list index must be an int, not {i}", index.pos)
                if t.startswith("list<"):
                    return t[5:-1]
                if t != "dyn":
                    return self._fail(f"cannot index a {t}", node.pos)
                return "dyn"
            case Unary(op, operand):
                t = self.check(operand)
                want = "bool" if op == "!" else "double"
                if not _assignable(t, want):
                    return self._fail(f"'{op}' needs a {want}, not {t}", node.pos)
                return "bool" if op == "!" else t
            case Binary():
                return self._binary(node)
            case Conditional(test, then, otherwise):
                if not _assignable(t := self.check(test), "bool"):
                    self._fail(f"a condition must be a bool, not {t}", test.pos)
                a, b = self.check(then), self.check(otherwise)
                if a == b or b == "null":
                    return a
                if a == "null":
                    return b
                if a in NUMERIC and b in NUMERIC:
                    return "double"
                return self._fail(f"both branches must have one type ({a} vs {b})", node.pos)
            case Call():
                return self._call(node)
        raise TypeError(f"not a rule AST node: {node!r}")  # pragma: no cover

    def _binary(self, node: Binary) -> str:
        a, b = self.check(node.left), self.check(node.right)
        op = node.op
        if op in ("&&", "||"):
            for t, side in ((a, node.left), (b, node.right)):
                if not _assignable(t, "bool"):
                    self._fail(f"'{op}' needs bools, not {t}", side.pos)
            return "bool"
        if op in ("==", "!="):
            if "null" in (a, b):
                return self._fail("compare with null: use has(field) to test presence", node.pos)
            if not (_assignable(a, b) or _assignable(b, a)):
                self._fail(f"cannot compare {a} with {b}", node.pos)
            return "bool"
        if op == "in":
            if not b.startswith("list<") and b != "dyn":
                return self._fail(f"'in' needs a list on the right, not {b}", node.right.pos)
            if b != "dyn" and not _assignable(a, b[5:-1]):
                self._fail(f"{a} cannot be in a {b}", node.pos)
            return "bool"
        if op in ("<", "<=", ">", ">="):
            if (a in NUMERIC or a == "dyn") and (b in NUMERIC or b == "dyn"):
                return "bool"
            if a == b == "string":
                return "bool"
            return self._fail(f"cannot order {a} and {b}", node.pos)
        if op == "+" and a == b == "string":
            return "string"
        if (a in NUMERIC or a == "dyn") and (b in NUMERIC or b == "dyn"):
            if op == "%" and not (a == b == "int"):
                return self._fail("'%' needs ints", node.pos)
            return "int" if a == b == "int" and op != "/" else "double"
        return self._fail(f"'{op}' cannot combine {a} and {b}", node.pos)

    def _call(self, node: Call) -> str:
        spec = FUNCTIONS.get(node.function)
        if spec is None:
            return self._fail(f"unknown function {node.function}()", node.pos)
        method, signatures = spec
        if method is not None and method != node.receiver:
            how = "as a method, e.g. x." if method else "as a function, e.g. "
            return self._fail(f"call {node.function} {how}{node.function}(...)", node.pos)
        if node.function == "has":  # has(a.b): is the optional field present
            if len(node.args) != 1 or not isinstance(node.args[0], Path):
                return self._fail("has() takes one field, e.g. has(event.coupon_code)", node.pos)
            self.check(node.args[0])
            return "bool"
        if node.function == "duration":  # a constant: the text must be a valid literal
            arg = node.args[0] if len(node.args) == 1 else None
            if not isinstance(arg, Literal) or not isinstance(arg.value, str):
                return self._fail(
                    'duration() takes a text literal, e.g. duration("1h30m")', node.pos
                )
            try:
                parse_duration(arg.value)
            except ValueError as exc:
                return self._fail(str(exc), arg.pos)
            return "int"
        if node.function == "not_followed_by" and not (
            len(node.args) == 3 and all(isinstance(a, Path) for a in node.args[:2])
        ):
            return self._fail(
                "not_followed_by() takes two fields of seconds since and a duration, e.g. "
                "not_followed_by(last.user.coupon_claims, last.user.coupon_redemptions, "
                'duration("1h"))',
                node.pos,
            )
        kinds = [self.check(a) for a in node.args]
        for args, result in signatures:
            if len(args) == len(kinds) and all(map(_assignable, kinds, args)):
                return result
        wanted = " or ".join(f"({', '.join(a)})" for a, _ in signatures)
        got = ", ".join(kinds)
        return self._fail(f"{node.function} takes {wanted}, not ({got})", node.pos)


def check_rule(expr: Expr, schema: Mapping[str, str]) -> None:
    """Raise RuleTypeError (every problem, with positions) unless ``expr`` is a bool rule."""
    checker = Checker(schema)
    result = checker.check(expr)
    if not checker.problems and not _assignable(result, "bool"):
        checker.problems.append(TypeProblem(f"a rule must be a bool, not {result}", expr.pos))
    if checker.problems:
        raise RuleTypeError(checker.problems)
