"""The rules language: CEL text → riskops AST (JSON round trip), type checking with positions,
and evaluation by compiled closures with a trace."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskops.core.rules.ast import Binary, Call, Literal, Path, Pos, from_json, to_json
from riskops.core.rules.evaluate import Context, RuleRuntimeError, compile_rule
from riskops.core.rules.parse import RuleSyntaxError, parse_rule
from riskops.core.rules.types import RuleTypeError, check_rule

SCHEMA = {
    "event.amount": "double",
    "event.payment_method": "string",
    "event.coupon_code": "string",
    "event.items": "int",
    "device.fingerprint": "string",
    "velocity.user.orders_1h": "int",
    "graph.device.distinct_users_30d": "int",
    "user.email": "string",
    "user.tags": "list<string>",
}
FIELDS = {
    "event.amount": 250.0,
    "event.payment_method": "cod",
    "event.coupon_code": None,
    "event.items": 3,
    "device.fingerprint": "fp-1",
    "velocity.user.orders_1h": 4,
    "graph.device.distinct_users_30d": 2,
    "user.email": "a.b@example.com",
    "user.tags": ["new", "promo"],
}


def run(text: str, **overrides: object) -> object:
    expr = parse_rule(text)
    check_rule(expr, SCHEMA)
    fields = {**FIELDS, **overrides}
    return compile_rule(expr)(Context(fields, lambda n, v: (n, v) == ("blocked", "fp-1")))


def test_parse_builds_our_ast_with_positions() -> None:
    expr = parse_rule("velocity.user.orders_1h >= 3 &&\n  in_list('blocked', device.fingerprint)")
    assert isinstance(expr, Binary)
    assert expr.op == "&&"
    left, right = expr.left, expr.right
    assert left == Binary(
        ">=", Path(("velocity", "user", "orders_1h"), Pos(1, 1)), Literal(3, Pos(1, 28)), Pos(1, 1)
    )
    assert isinstance(right, Call)
    assert (right.function, right.pos) == ("in_list", Pos(2, 3))


@pytest.mark.parametrize(
    "text",
    [
        "event.amount > 100.5 || event.payment_method == 'cod'",
        "event.amount > 10 ? user.email.matches('^a') : !(event.items in [1, 2, 3])",
        'user.tags[0].startsWith("n") && size(user.tags) == 2 && -event.amount < 0',
        'user.email.endsWith("""example.com""") && has(event.coupon_code)',
    ],
)
def test_json_round_trip(text: str) -> None:
    expr = parse_rule(text)
    assert from_json(to_json(expr)) == expr


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("event.amount >", (1, 14), "unexpected"),
        ("event.amount > 1 &&\n  (2 + )", (2, 8), "unexpected"),
        ("{'a': 1}", (1, 1), "map literals"),
        ("b'xy' == b'xy'", (1, 1), "bytes literals"),
        ("", (1, 1), "needs an expression"),
    ],
)
def test_syntax_errors_name_the_position(text: str, where: tuple[int, int], what: str) -> None:
    with pytest.raises(RuleSyntaxError) as err:
        parse_rule(text)
    assert (err.value.pos.line, err.value.pos.column) == where
    assert what in err.value.message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("event.amout > 1", "1:1: unknown field 'event.amout'"),
        ("event.amount > 1 &&\n  velocity.user.logins_1h > 2", "2:3: unknown field"),
        ("event.payment_method > 3", "1:1: cannot order string and int"),
        ("event.amount + 1", "1:1: a rule must be a bool, not double"),
        ("nope(1)", "1:1: unknown function nope()"),
        ("size(user.email, 2) > 1", "1:1: size takes (string) or (list<dyn>), not (string, int)"),
        ("in_list('blocked', event.items)", "1:1: in_list takes (string, string), not"),
        ("user.email.in_list('x')", "call in_list as a function"),
        ("event.items % 2.0 == 1", "'%' needs ints"),
        ("event.coupon_code == null", "1:1: compare with null: use has(field)"),
    ],
)
def test_type_errors_name_the_position(text: str, problem: str) -> None:
    with pytest.raises(RuleTypeError) as err:
        check_rule(parse_rule(text), SCHEMA)
    assert problem in str(err.value)


def test_every_type_problem_is_reported() -> None:
    with pytest.raises(RuleTypeError) as err:
        check_rule(parse_rule("event.x > 1 || event.y > 2"), SCHEMA)
    assert [str(p.pos) for p in err.value.problems] == ["1:1", "1:16"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("event.amount > 100 && event.payment_method == 'cod'", True),
        ("velocity.user.orders_1h >= 5", False),
        ("in_list('blocked', device.fingerprint)", True),
        ("event.items % 2 == 1 && 7 / 2 == 3.5", True),
        ("-7 % 3 == -1", True),  # CEL: the sign of the remainder follows the dividend
        ("'promo' in user.tags && !('vip' in user.tags)", True),
        ("user.email.matches('^[a-z.]+@example[.]com$')", True),
        ("has(event.coupon_code) || user.email.upper().startsWith('A.B')", True),
        ("event.amount > 1000 ? false : graph.device.distinct_users_30d >= 2", True),
        # && and || absorb an error (here: a null coupon code) when the other side decides
        ("event.coupon_code.startsWith('X') && event.amount > 1000", False),
        ("event.amount > 100 || event.coupon_code.startsWith('X')", True),
    ],
)
def test_evaluation(text: str, expected: bool) -> None:
    assert run(text) is expected


def test_runtime_errors_name_the_node_and_never_pass() -> None:
    compiled = compile_rule(parse_rule("event.amount > 1"))
    with pytest.raises(RuleRuntimeError, match=r"1:1: field 'event\.amount' is missing"):
        compiled(Context({}))
    with pytest.raises(RuleRuntimeError, match="division by zero"):
        run("event.amount / (event.items - 3) > 1")
    with pytest.raises(RuleRuntimeError, match="null"):
        run("event.coupon_code.startsWith('X')")
    with pytest.raises(RuleRuntimeError, match="null"):  # the other side does not decide
        run("event.coupon_code.startsWith('X') && event.amount > 100")


def test_regex_is_linear_time() -> None:
    # catastrophic for a backtracking engine; RE2 answers at once
    assert run("user.email.matches('^(a+)+$')", **{"user.email": "a" * 40 + "!"}) is False


def test_trace_records_each_node_value() -> None:
    trace: dict[str, object] = {}
    expr = parse_rule("velocity.user.orders_1h >= 3 && event.amount > 500")
    assert compile_rule(expr)(Context(FIELDS, trace=trace)) is False
    assert trace == {
        "1:1 velocity.user.orders_1h": 4,
        "1:1 >=": True,
        "1:33 event.amount": 250.0,
        "1:33 >": False,
        "1:1 &&": False,
    }


@given(st.integers(-(10**9), 10**9), st.integers(-(10**9), 10**9), st.sampled_from("<>="))
def test_comparisons_agree_with_python(a: int, b: int, op: str) -> None:
    text = f"{a} {op if op != '=' else '=='} {b}"
    expected = {"<": a < b, ">": a > b, "=": a == b}[op]
    assert compile_rule(parse_rule(text))(Context({})) is expected
