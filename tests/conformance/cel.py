"""Run the CEL conformance cases (the "simple" suite in ../shared/data/cel-spec) through
riskops' rule pipeline: parse, type-check, compile to closures, evaluate. Each case ends as

* ``agree``: we give the value (or the run-time error) CEL expects;
* ``rejected``: we refuse the expression before running it (a construct outside our subset -
  macros, maps, bytes, unsigned ints, timestamps, conversions - or a type CEL allows there);
* ``disagree``: we run it and answer differently.

``python -m tests.conformance.cel`` prints the table per file."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riskops.core.rules.evaluate import Context, RuleRuntimeError, compile_rule
from riskops.core.rules.parse import RuleSyntaxError, parse_rule
from riskops.core.rules.types import Checker
from tests.conformance.textproto import parse

SUITE = Path(__file__).resolve().parents[3] / "shared" / "data" / "cel-spec"
_PRIMITIVE = {"INT64": "int", "DOUBLE": "double", "STRING": "string", "BOOL": "bool"}
_UNSUPPORTED = object()


@dataclass(frozen=True)
class Case:
    file: str
    section: str
    name: str
    expr: str
    expected: Any  # a Python value, _UNSUPPORTED, or RuleRuntimeError (an error is expected)
    schema: dict[str, str] | None  # None: a declaration outside our types
    fields: dict[str, Any] | None


@dataclass(frozen=True)
class Outcome:
    case: Case
    result: str  # agree | rejected | disagree
    detail: str = ""


def _value(v: dict[str, list[Any]]) -> Any:
    (kind,) = v.keys()
    (raw,) = v[kind]
    if kind == "int64_value":
        return int(raw)
    if kind == "double_value":
        return float(raw)
    if kind == "string_value":
        return str(raw)
    if kind == "bool_value":
        return bool(raw)
    if kind == "null_value":
        return None
    if kind == "list_value":
        items = [_value(x) for x in raw.get("values", [])]
        return _UNSUPPORTED if any(i is _UNSUPPORTED for i in items) else items
    return _UNSUPPORTED  # uint64, bytes, maps, messages, types, durations …


def cases(suite: Path = SUITE) -> Iterator[Case]:
    for path in sorted(suite.glob("*.textproto")):
        doc = parse(path.read_text(encoding="utf-8"))
        for section in doc.get("section", []):
            for test in section.get("test", []):
                if "value" in test:
                    expected = _value(test["value"][0])
                elif "eval_error" in test:
                    expected = RuleRuntimeError
                else:
                    expected = _UNSUPPORTED
                schema: dict[str, str] | None = {}
                for decl in test.get("type_env", []):
                    prim = decl.get("ident", [{}])[0].get("type", [{}])[0].get("primitive")
                    if schema is not None and prim and prim[0] in _PRIMITIVE:
                        schema[decl["name"][0]] = _PRIMITIVE[prim[0]]
                    else:
                        schema = None
                fields: dict[str, Any] | None = {}
                for binding in test.get("bindings", []):
                    value = _value(binding["value"][0]["value"][0])
                    if value is _UNSUPPORTED or fields is None:
                        fields = None
                    else:
                        fields[binding["key"][0]] = value
                yield Case(
                    path.stem,
                    section["name"][0],
                    test["name"][0],
                    test["expr"][0],
                    expected,
                    schema,
                    fields,
                )


def _same(ours: Any, theirs: Any) -> bool:
    if type(ours) is not type(theirs):
        return False
    if isinstance(ours, float):
        return (math.isnan(ours) and math.isnan(theirs)) or ours == theirs
    if isinstance(ours, list):
        return len(ours) == len(theirs) and all(map(_same, ours, theirs))
    return bool(ours == theirs)


def run(case: Case) -> Outcome:
    if case.expected is _UNSUPPORTED or case.schema is None or case.fields is None:
        return Outcome(case, "rejected", "a value or declaration outside our types")
    try:
        expr = parse_rule(case.expr)
    except RuleSyntaxError as exc:
        return Outcome(case, "rejected", f"syntax: {exc}")
    checker = Checker(case.schema)
    checker.check(expr)
    if checker.problems:
        return Outcome(case, "rejected", f"type: {checker.problems[0].message}")
    try:
        value = compile_rule(expr)(Context(case.fields))
    except RuleRuntimeError as exc:
        if case.expected is RuleRuntimeError:
            return Outcome(case, "agree")
        return Outcome(case, "disagree", f"error {exc}, CEL gives {case.expected!r}")
    if case.expected is RuleRuntimeError:
        return Outcome(case, "disagree", f"{value!r}, CEL gives an error")
    if _same(value, case.expected):
        return Outcome(case, "agree")
    return Outcome(case, "disagree", f"{value!r}, CEL gives {case.expected!r}")


def report(outcomes: list[Outcome]) -> dict[str, Counter[str]]:
    per_file: dict[str, Counter[str]] = {}
    for o in outcomes:
        per_file.setdefault(o.case.file, Counter())[o.result] += 1
    return per_file


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    outcomes = [run(c) for c in cases()]
    table = Table(title="CEL conformance (simple suite) through riskops' rules")
    for column in ("file", "cases", "agree", "rejected", "disagree", "agree of run"):
        table.add_column(column, justify="left" if column == "file" else "right")
    total: Counter[str] = Counter()
    for name, counts in sorted(report(outcomes).items()):
        total.update(counts)
        ran = counts["agree"] + counts["disagree"]
        share = f"{counts['agree'] / ran:.0%}" if ran else "-"
        n = sum(counts.values())
        table.add_row(
            name, str(n), *(str(counts[k]) for k in ("agree", "rejected", "disagree")), share
        )
    ran = total["agree"] + total["disagree"]
    table.add_row(
        "all",
        str(sum(total.values())),
        *(str(total[k]) for k in ("agree", "rejected", "disagree")),
        f"{total['agree'] / ran:.0%}" if ran else "-",
    )
    Console().print(table)
    for o in outcomes:
        if o.result == "disagree":
            print(f"{o.case.file}/{o.case.name}: {o.case.expr!r} -> {o.detail}")


if __name__ == "__main__":
    main()
