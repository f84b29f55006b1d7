"""Rulesets: the rules of one checkpoint, as analysts write them in YAML (files that can live in
git), validated and compiled before anything can use them.

.. code-block:: yaml

    checkpoint: order
    rules:
      - id: cod_burst
        when: velocity.user.orders_1h >= 3 && event.payment_method == "cod"
        outcome: review          # allow | challenge | review | deny
        score: 30                # 0..100, added up over the rules that hit (capped at 100)
        actions: [hold_for_review]
        priority: 10             # higher runs first (ties: file order)
        state: active            # draft | shadow | active | retired
        skip_if_allowed: [user]  # an allow-listed user skips this rule
        reason:
          en: Several cash-on-delivery orders within an hour
          zh: 一小时内多次货到付款下单

Every problem names where it is: the rule (index and id), the key, the line of the file and,
for the expression, its line:column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from riskops.core.decisions.schema import CHECKPOINTS, context_schema
from riskops.core.rules.ast import (
    Binary,
    Call,
    Conditional,
    Expr,
    Index,
    ListExpr,
    Path,
    Unary,
)
from riskops.core.rules.evaluate import Compiled, compile_rule
from riskops.core.rules.parse import RuleSyntaxError, parse_rule
from riskops.core.rules.types import RuleTypeError, check_rule

OUTCOMES = ("allow", "challenge", "review", "deny")
"""From least to most severe; the most severe outcome among the rules that hit wins."""
STATES = ("draft", "shadow", "active", "retired")
ACTIONS = (
    "require_captcha",
    "require_otp",
    "require_online_payment",
    "cap_coupon",
    "hold_for_review",
    "instant_refund",
    "reduce_exposure",
    "block",
)
SKIPPABLE = ("user", "device", "ip", "address", "instrument", "merchant")


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    when: str
    outcome: str
    score: int = 0
    actions: tuple[str, ...] = ()
    priority: int = 0
    state: str = "active"
    reason_en: str = ""
    reason_zh: str = ""
    description: str = ""
    skip_if_allowed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    expr: Expr
    run: Compiled
    """Evaluates the rule without recording a trace."""
    run_traced: Compiled
    """The same, recording every node's value in the context's trace."""
    fields: frozenset[str]
    """Every context field the rule reads."""

    sorted_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "sorted_fields", tuple(sorted(self.fields)))


@dataclass(frozen=True, slots=True)
class Ruleset:
    checkpoint: str
    rules: tuple[CompiledRule, ...]
    fields: frozenset[str] = field(default_factory=frozenset)
    """Every context field any live (active or shadow) rule reads."""
    live_rules: tuple[CompiledRule, ...] = ()
    """The active and shadow rules, in run order."""

    def __post_init__(self) -> None:
        live = tuple(r for r in self.rules if r.rule.state in ("active", "shadow"))
        object.__setattr__(self, "live_rules", live)

    def live(self) -> tuple[CompiledRule, ...]:
        return self.live_rules


@dataclass(frozen=True, slots=True)
class RulesetProblem:
    where: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        at = f" (line {self.line})" if self.line else ""
        return f"{self.where}{at}: {self.reason}"


class InvalidRuleset(ValueError):
    def __init__(self, problems: list[RulesetProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class _LineLoader(yaml.SafeLoader):
    """Records the file line of every mapping under the key ``__line__``."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = dict(loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def _paths(expr: Expr) -> set[str]:
    match expr:
        case Path():
            return {expr.dotted}
        case ListExpr(items) | Call(_, items):
            return set().union(*(_paths(i) for i in items)) if items else set()
        case Index(target, index) | Binary(_, target, index):
            return _paths(target) | _paths(index)
        case Unary(_, operand):
            return _paths(operand)
        case Conditional(test, then, otherwise):
            return _paths(test) | _paths(then) | _paths(otherwise)
    return set()


def _rule(raw: Any, index: int, problems: list[RulesetProblem]) -> Rule | None:
    where = f"rules[{index}]"
    if not isinstance(raw, Mapping):
        problems.append(RulesetProblem(where, "must be a mapping with id, when and outcome"))
        return None
    line = raw.get("__line__")
    rid = raw.get("id")
    if isinstance(rid, str) and rid:
        where = f"rules[{index}] ({rid})"

    def bad(key: str, reason: str) -> None:
        problems.append(RulesetProblem(f"{where}.{key}", reason, line))

    known = {f for f in Rule.__dataclass_fields__ if not f.startswith("reason_")} | {"reason"}
    for key in raw:
        if key not in known and key != "__line__":
            bad(str(key), "unknown key")
    if not isinstance(rid, str) or not rid.replace("_", "").replace("-", "").isalnum():
        bad("id", "required: letters, digits, '_' or '-'")
    when = raw.get("when")
    if not isinstance(when, str) or not when.strip():
        bad("when", "required: a CEL expression")
    outcome = raw.get("outcome")
    if outcome not in OUTCOMES:
        bad("outcome", f"required: one of {', '.join(OUTCOMES)}")
    score = raw.get("score", 0)
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
        bad("score", "must be an integer from 0 to 100")
    priority = raw.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        bad("priority", "must be an integer")
    state = raw.get("state", "active")
    if state not in STATES:
        bad("state", f"must be one of {', '.join(STATES)}")
    actions = raw.get("actions", [])
    if not isinstance(actions, list) or any(a not in ACTIONS for a in actions):
        bad("actions", f"must be a list of {', '.join(ACTIONS)}")
    skips = raw.get("skip_if_allowed", [])
    if not isinstance(skips, list) or any(s not in SKIPPABLE for s in skips):
        bad("skip_if_allowed", f"must be a list of {', '.join(SKIPPABLE)}")
    reason = raw.get("reason", {})
    if isinstance(reason, str):
        reason = {"en": reason}
    if not isinstance(reason, Mapping) or any(k not in ("en", "zh", "__line__") for k in reason):
        bad("reason", "a text, or a mapping with en and zh")
        reason = {}
    if any(p.where.startswith(where) for p in problems):
        return None
    return Rule(
        id=rid,  # type: ignore[arg-type]
        when=when,  # type: ignore[arg-type]
        outcome=outcome,  # type: ignore[arg-type]
        score=score,
        actions=tuple(actions),
        priority=priority,
        state=state,
        reason_en=str(reason.get("en", "")),
        reason_zh=str(reason.get("zh", reason.get("en", ""))),
        description=str(raw.get("description", "")),
        skip_if_allowed=tuple(skips),
    )


def compile_rules(checkpoint: str, rules: list[Rule], lines: list[int | None]) -> Ruleset:
    """Parse and type-check every rule against the checkpoint's schema (InvalidRuleset)."""
    schema = context_schema(checkpoint)
    problems: list[RulesetProblem] = []
    compiled: list[CompiledRule] = []
    seen: set[str] = set()
    for i, (rule, line) in enumerate(zip(rules, lines, strict=True)):
        where = f"rules[{i}] ({rule.id})"
        if rule.id in seen:
            problems.append(RulesetProblem(f"{where}.id", "duplicate rule id", line))
        seen.add(rule.id)
        try:
            expr = parse_rule(rule.when)
            check_rule(expr, schema)
        except RuleSyntaxError as exc:
            problems.append(RulesetProblem(f"{where}.when", f"{exc.pos}: {exc.message}", line))
            continue
        except RuleTypeError as exc:
            problems.extend(RulesetProblem(f"{where}.when", str(p), line) for p in exc.problems)
            continue
        compiled.append(
            CompiledRule(
                rule,
                expr,
                compile_rule(expr, traced=False),
                compile_rule(expr),
                frozenset(_paths(expr)),
            )
        )
    if problems:
        raise InvalidRuleset(problems)
    ordered = sorted(enumerate(compiled), key=lambda p: (-p[1].rule.priority, p[0]))
    rules_out = tuple(r for _, r in ordered)
    live = [r for r in rules_out if r.rule.state in ("active", "shadow")]
    return Ruleset(checkpoint, rules_out, frozenset().union(*(r.fields for r in live)))


def load_ruleset(text: str) -> Ruleset:
    """A ruleset from YAML text (InvalidRuleset naming every problem)."""
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InvalidRuleset([RulesetProblem("file", "not valid YAML", line)]) from None
    if not isinstance(data, Mapping):
        raise InvalidRuleset(
            [RulesetProblem("file", "must be a mapping with checkpoint and rules")]
        )
    problems: list[RulesetProblem] = []
    checkpoint = data.get("checkpoint")
    if checkpoint not in CHECKPOINTS:
        problems.append(
            RulesetProblem(
                "checkpoint", f"must be one of {', '.join(CHECKPOINTS)}", data["__line__"]
            )
        )
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list):
        problems.append(RulesetProblem("rules", "must be a list of rules", data["__line__"]))
        raw_rules = []
    rules = [_rule(raw, i, problems) for i, raw in enumerate(raw_rules)]
    lines = [raw.get("__line__") if isinstance(raw, Mapping) else None for raw in raw_rules]
    good = [(r, line) for r, line in zip(rules, lines, strict=True) if r is not None]
    if checkpoint not in CHECKPOINTS:
        raise InvalidRuleset(problems)
    try:  # the expressions of the well-formed rules are checked too: every problem at once
        ruleset = compile_rules(str(checkpoint), [r for r, _ in good], [ln for _, ln in good])
    except InvalidRuleset as exc:
        problems.extend(exc.problems)
    if problems:
        raise InvalidRuleset(problems)
    return ruleset
