"""CEL text → riskops AST. The text is parsed by cel-python's Lark grammar (a maintained CEL
parser); the parse tree is then lowered to :mod:`riskops.core.rules.ast`, rejecting the parts
of CEL that riskops rules do not support (maps, message construction, bytes, unsigned ints,
leading-dot names), each with its position.
"""

from __future__ import annotations

import math
from typing import Any

from celpy.celparser import CELParseError, CELParser
from lark import Token
from lark import Tree as _LarkTree

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

Tree = _LarkTree[Token]
MAX_RULE_CHARS = 20_000
_RELATIONS = {
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_in": "in",
}
_ARITHMETIC = {
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
}


class RuleSyntaxError(ValueError):
    """A rule that does not parse, or uses CEL that riskops does not support."""

    def __init__(self, message: str, pos: Pos) -> None:
        super().__init__(f"{pos}: {message}")
        self.message = message
        self.pos = pos


def parse_rule(text: str) -> Expr:
    """Parse one CEL expression into the riskops AST; RuleSyntaxError with line:column."""
    if not isinstance(text, str) or not text.strip():
        raise RuleSyntaxError("a rule needs an expression", Pos(1, 1))
    if len(text) > MAX_RULE_CHARS:
        raise RuleSyntaxError(f"a rule is at most {MAX_RULE_CHARS} characters", Pos(1, 1))
    try:
        tree = CELParser().parse(text)
    except CELParseError as exc:
        first = str(exc.args[0]).strip().splitlines() if exc.args else []
        where = Pos(exc.line or 1, exc.column or 1)
        detail = "unexpected input" if not first else f"unexpected input near {first[0]!r}"
        raise RuleSyntaxError(detail, where) from None
    return _Lower().expr(tree)


def _pos(node: Tree | Token) -> Pos:
    if isinstance(node, Token):
        return Pos(node.line or 1, node.column or 1)
    meta = node.meta
    return Pos(getattr(meta, "line", 1), getattr(meta, "column", 1))


def _trees(node: Tree) -> list[Tree]:
    return [c for c in node.children if isinstance(c, _LarkTree)]


class _Lower:
    """Walks cel-python's parse tree (rule names of its ``cel.lark``)."""

    def expr(self, node: Tree) -> Expr:
        kind = node.data
        method = getattr(self, f"_{kind}", None)
        if method is None:
            raise RuleSyntaxError(f"unsupported construct ({kind})", _pos(node))
        result: Expr = method(node)
        return result

    def _expr(self, node: Tree) -> Expr:
        parts = _trees(node)
        if len(parts) == 1:
            return self.expr(parts[0])
        test, then, otherwise = parts
        return Conditional(self.expr(test), self.expr(then), self.expr(otherwise), _pos(node))

    def _binary_chain(self, node: Tree, op: str) -> Expr:
        parts = _trees(node)
        if len(parts) == 1:
            return self.expr(parts[0])
        left, right = parts
        return Binary(op, self.expr(left), self.expr(right), _pos(node))

    def _conditionalor(self, node: Tree) -> Expr:
        return self._binary_chain(node, "||")

    def _conditionaland(self, node: Tree) -> Expr:
        return self._binary_chain(node, "&&")

    def _operator(self, node: Tree, table: dict[str, str]) -> Expr:
        parts = _trees(node)
        if len(parts) == 1:
            return self.expr(parts[0])
        head, right = parts  # head is e.g. relation_lt(relation)
        (left,) = _trees(head)
        return Binary(table[head.data], self.expr(left), self.expr(right), _pos(node))

    def _relation(self, node: Tree) -> Expr:
        return self._operator(node, _RELATIONS)

    def _addition(self, node: Tree) -> Expr:
        return self._operator(node, _ARITHMETIC)

    def _multiplication(self, node: Tree) -> Expr:
        return self._operator(node, _ARITHMETIC)

    def _unary(self, node: Tree) -> Expr:
        parts = _trees(node)
        if len(parts) == 1:
            return self.expr(parts[0])
        op_node, operand = parts
        op = "!" if op_node.data == "unary_not" else "-"
        inner = self.expr(operand)
        value = inner.value if isinstance(inner, Literal) else None
        # fold "-literal", except where the result leaves the int range (an error at run time)
        if op == "-" and isinstance(value, float):
            return Literal(-value, _pos(node))
        if op == "-" and isinstance(value, int) and not isinstance(value, bool) and -value < 2**63:
            return Literal(-value, _pos(node))
        return Unary(op, inner, _pos(node))

    def _member(self, node: Tree) -> Expr:
        return self.expr(_trees(node)[0])

    def _primary(self, node: Tree) -> Expr:
        return self.expr(_trees(node)[0])

    def _paren_expr(self, node: Tree) -> Expr:
        return self.expr(_trees(node)[0])

    def _ident(self, node: Tree) -> Expr:
        (name,) = node.children
        return Path((str(name),), _pos(node))

    def _member_dot(self, node: Tree) -> Expr:
        target, name = node.children
        assert isinstance(target, _LarkTree)
        inner = self.expr(target)
        if isinstance(inner, Path):
            return Path((*inner.parts, str(name)), inner.pos)
        raise RuleSyntaxError("a field can only be selected from a name", _pos(node))

    def _args(self, node: Tree | Token | None) -> tuple[Expr, ...]:
        if not isinstance(node, _LarkTree):
            return ()
        return tuple(self.expr(e) for e in _trees(node))

    def _ident_arg(self, node: Tree) -> Expr:
        name, *rest = node.children
        return Call(str(name), self._args(rest[0] if rest else None), _pos(node))

    def _member_dot_arg(self, node: Tree) -> Expr:
        target, name, *rest = node.children
        assert isinstance(target, _LarkTree)
        args = (self.expr(target), *self._args(rest[0] if rest else None))
        return Call(str(name), args, _pos(node), receiver=True)

    def _member_index(self, node: Tree) -> Expr:
        target, index = _trees(node)
        return Index(self.expr(target), self.expr(index), _pos(node))

    def _list_lit(self, node: Tree) -> Expr:
        parts = _trees(node)
        return ListExpr(self._args(parts[0] if parts else None), _pos(node))

    def _literal(self, node: Tree) -> Expr:
        (token,) = node.children
        assert isinstance(token, Token)
        return Literal(_literal_value(token), _pos(token))

    def _map_lit(self, node: Tree) -> Expr:
        raise RuleSyntaxError("map literals are not supported in rules", _pos(node))

    def _member_object(self, node: Tree) -> Expr:
        raise RuleSyntaxError("message construction is not supported in rules", _pos(node))

    def _dot_ident(self, node: Tree) -> Expr:
        raise RuleSyntaxError("names with a leading '.' are not supported", _pos(node))

    _dot_ident_arg = _dot_ident


_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "`": "`",
    "?": "?",
}
_HEX_WIDTH = {"x": 2, "X": 2, "u": 4, "U": 8}


def string_value(text: str) -> str:
    """The value of a CEL string literal (quotes included): raw strings (``r"..."``) as
    written; otherwise CEL's escapes - ``\\a \\b \\f \\n \\r \\t \\v \\\\ \\' \\" \\` \\?``,
    ``\\xHH`` / ``\\XHH``, ``\\uHHHH``, ``\\UHHHHHHHH`` and octal ``\\ooo``, each a code point."""
    raw = text[0] in "rR"
    body = text[1:] if raw else text
    quote = 3 if body[:3] in ("'''", '"""') else 1
    body = body[quote:-quote]
    if raw:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(body):
            raise ValueError("a lone backslash at the end")
        e = body[i + 1]
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e in _HEX_WIDTH:
            digits = body[i + 2 : i + 2 + _HEX_WIDTH[e]]
            if len(digits) != _HEX_WIDTH[e] or not all(
                d in "0123456789abcdefABCDEF" for d in digits
            ):
                raise ValueError(f"\\{e} needs {_HEX_WIDTH[e]} hex digits")
            code = int(digits, 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise ValueError(f"\\{e}{digits} is not a Unicode scalar value")
            out.append(chr(code))
            i += 2 + len(digits)
        elif e in "0123":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(d in "01234567" for d in digits):
                raise ValueError("an octal escape needs 3 digits")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise ValueError(f"unknown escape \\{e}")
    return "".join(out)


def _literal_value(token: Token) -> Any:
    text = str(token)
    kind = token.type
    if kind == "INT_LIT":
        hexadecimal = text.lstrip("-").lower().startswith("0x")
        return int(text, 16) if hexadecimal else int(text, 10)  # CEL: 007 is 7
    if kind == "FLOAT_LIT":
        value = float(text)
        if not math.isfinite(value):
            raise RuleSyntaxError("number out of the double range", _pos(token))
        return value
    if kind == "BOOL_LIT":
        return text == "true"
    if kind == "NULL_LIT":
        return None
    if kind in ("STRING_LIT", "MLSTRING_LIT"):
        try:
            return string_value(text)
        except ValueError as exc:
            raise RuleSyntaxError(f"invalid string literal: {exc}", _pos(token)) from None
    name = kind.lower().replace("_lit", "")
    raise RuleSyntaxError(f"{name} literals are not supported", _pos(token))
