"""Evaluate a ruleset on one decision's context (pure: the context, list lookups and the fail
mode are arguments).

* Live rules run in priority order. An *active* rule that hits adds its score (capped at 100)
  and its actions; the most severe outcome among the hits wins (allow < challenge < review <
  deny). A *shadow* rule runs the same way and records its hit, but never changes anything.
* A rule whose ``skip_if_allowed`` names an entity on an allow list is skipped.
* A rule that fails at run time is recorded with its error. With fail mode ``closed`` an active
  rule's failure makes the outcome at least ``review``; with ``open`` it is ignored. It never
  passes silently: the decision lists it.
* Every rule that ran has its value in the trace; with ``trace=True`` also the value of each
  field, operator and function it evaluated. Evaluation is deterministic given the fields,
  the list answers (recorded in ``lookups``) and the allow-listed entity types, so a trace can
  be rebuilt later from what a decision stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from riskops.core.decisions.ruleset import OUTCOMES, CompiledRule, Ruleset
from riskops.core.rules.evaluate import Context, RuleRuntimeError

FAIL_MODES = ("open", "closed")


@dataclass(frozen=True, slots=True)
class Reason:
    rule_id: str
    text_en: str
    text_zh: str
    values: dict[str, Any]
    """The context fields the rule read, with their values."""


@dataclass(frozen=True, slots=True)
class RuleError:
    rule_id: str
    message: str
    position: str


@dataclass(slots=True)
class Evaluation:
    outcome: str = "allow"
    score: int = 0
    actions: list[str] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    shadow_hits: list[str] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    trace: dict[str, dict[str, Any]] = field(default_factory=dict)
    lookups: dict[str, bool] = field(default_factory=dict)
    """Every list answer the rules used: ``"list\x1fvalue" -> member``."""


_SEVERITY = {outcome: i for i, outcome in enumerate(OUTCOMES)}


def _more_severe(a: str, b: str) -> str:
    return a if _SEVERITY[a] >= _SEVERITY[b] else b


def evaluate(
    ruleset: Ruleset,
    fields: Mapping[str, Any],
    *,
    in_list: Callable[[str, str], bool] = lambda _n, _v: False,
    allowed: frozenset[str] = frozenset(),
    fail_mode: str = "open",
    trace: bool = True,
) -> Evaluation:
    """Run every live rule of ``ruleset`` on ``fields``. ``allowed``: the entity types of this
    event that are on an allow list."""
    if fail_mode not in FAIL_MODES:
        raise ValueError(f"fail_mode must be one of {FAIL_MODES}, got {fail_mode!r}")
    result = Evaluation()
    lookups = result.lookups

    def lists(name: str, value: str) -> bool:
        key = f"{name}\x1f{value}"
        found = lookups.get(key)
        if found is None:
            found = lookups[key] = bool(in_list(name, value))
        return found

    shared = Context(fields, lists, None)  # untraced: one context for every rule
    for compiled in ruleset.live_rules:
        rule = compiled.rule
        if allowed and allowed.intersection(rule.skip_if_allowed):
            result.skipped.append(rule.id)
            continue
        nodes: dict[str, Any] | None = {} if trace else None
        try:
            if nodes is None:
                hit = bool(compiled.run(shared))
            else:
                hit = bool(compiled.run_traced(Context(fields, lists, nodes)))
        except RuleRuntimeError as exc:
            result.trace[rule.id] = {"value": None, "error": str(exc)}
            if nodes is not None:
                result.trace[rule.id]["nodes"] = nodes
            result.errors.append(RuleError(rule.id, exc.message, str(exc.pos)))
            if fail_mode == "closed" and rule.state == "active":
                result.outcome = _more_severe("review", result.outcome)
            continue
        result.trace[rule.id] = {"value": hit} if nodes is None else {"value": hit, "nodes": nodes}
        if not hit:
            continue
        if rule.state == "shadow":
            result.shadow_hits.append(rule.id)
            continue
        _apply_hit(result, compiled, fields)
    return result


def _apply_hit(result: Evaluation, compiled: CompiledRule, fields: Mapping[str, Any]) -> None:
    rule = compiled.rule
    result.outcome = _more_severe(rule.outcome, result.outcome)
    result.score = min(100, result.score + rule.score)
    for action in rule.actions:
        if action not in result.actions:
            result.actions.append(action)
    values = {f: fields.get(f) for f in compiled.sorted_fields}
    result.reasons.append(Reason(rule.id, rule.reason_en, rule.reason_zh, values))
