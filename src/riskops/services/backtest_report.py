"""The backtest report from its DuckDB tables: ``hits`` (one boolean column per candidate rule,
``c0`` …, NULL where the rule failed), ``outcomes`` (per event and side), ``keys`` (what a
label may name, per event) and ``labels``.

An event is *bad* when a label other than ``legit`` names it, its order, its user or its
device; everything else is good (legitimate) traffic. Per rule: hits (shadow rules too),
precision, recall per label kind, false-positive rate, GMV denied and run-time errors. Per
ruleset: outcomes, share caught per label kind (any outcome but allow), false-positive rate,
GMV denied, loss prevented (GMV denied on bad events), review load; and how outcomes changed.
"""

from __future__ import annotations

from typing import Any

import duckdb

from riskops.core.decisions.backtest import GOOD


def report(con: duckdb.DuckDBPyConnection, rule_ids: list[str], baseline: bool) -> dict[str, Any]:
    con.execute(
        "CREATE TABLE truth AS SELECT k.seq, list(DISTINCT l.kind ORDER BY l.kind) AS kinds "
        f"FROM keys k JOIN labels l USING (key_type, key_id) WHERE l.kind <> '{GOOD}' "
        "GROUP BY k.seq"
    )
    con.execute(
        "CREATE TABLE judged AS SELECT h.*, COALESCE(t.kinds, CAST([] AS VARCHAR[])) AS kinds, "
        "len(COALESCE(t.kinds, CAST([] AS VARCHAR[]))) > 0 AS bad, oc.outcome AS cand, "
        "ob.outcome AS base FROM hits h LEFT JOIN truth t USING (seq) "
        "JOIN outcomes oc ON oc.seq = h.seq AND oc.side = 'c' "
        "LEFT JOIN outcomes ob ON ob.seq = h.seq AND ob.side = 'b'"
    )
    events, bad = _one(con, "SELECT count(*), count(*) FILTER (WHERE bad) FROM judged")
    totals = dict(
        con.execute(
            "SELECT k, count(*) FROM (SELECT unnest(kinds) AS k FROM judged) GROUP BY k ORDER BY k"
        ).fetchall()
    )
    good = events - bad
    return {
        "events": events,
        "bad_events": bad,
        "labels": totals,
        "rules": _rules(con, rule_ids, totals, good),
        "candidate": _side(con, "cand", totals, good),
        "baseline": _side(con, "base", totals, good) if baseline else None,
        "changes": (
            {
                f"{b} -> {c}": n
                for b, c, n in con.execute(
                    "SELECT base, cand, count(*) FROM judged WHERE base <> cand "
                    "GROUP BY base, cand ORDER BY base, cand"
                ).fetchall()
            }
            if baseline
            else {}
        ),
    }


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = con.execute(sql).fetchone()
    assert row is not None
    return tuple(row)


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def _kind(kind: str) -> str:
    return "'" + kind.replace("'", "''") + "'"


def _rules(
    con: duckdb.DuckDBPyConnection, rule_ids: list[str], totals: dict[str, int], good: int
) -> list[dict[str, Any]]:
    if not rule_ids:
        return []
    kinds = list(totals)
    per = 5 + len(kinds)
    select = []
    for i in range(len(rule_ids)):
        c = f"c{i}"
        select += [
            f"count(*) FILTER (WHERE {c})",
            f"count(*) FILTER (WHERE {c} AND bad)",
            f"count(*) FILTER (WHERE {c} AND NOT bad)",
            f"count(*) FILTER (WHERE {c} IS NULL)",
            f"COALESCE(sum(amount) FILTER (WHERE {c} AND cand = 'deny'), 0)",
        ]
        select += [
            f"count(*) FILTER (WHERE {c} AND list_contains(kinds, {_kind(k)}))" for k in kinds
        ]
    row = _one(con, "SELECT " + ", ".join(select) + " FROM judged")
    out = []
    for i, rule in enumerate(rule_ids):
        hits, bad_hits, good_hits, errors, gmv, *by_kind = row[i * per : (i + 1) * per]
        out.append(
            {
                "rule": rule,
                "hits": hits,
                "precision": _ratio(bad_hits, hits),
                "recall": {k: _ratio(n, totals[k]) for k, n in zip(kinds, by_kind, strict=True)},
                "false_positive_rate": _ratio(good_hits, good),
                "gmv_denied": round(float(gmv), 2),
                "errors": errors,
            }
        )
    return out


def _side(
    con: duckdb.DuckDBPyConnection, column: str, totals: dict[str, int], good: int
) -> dict[str, Any]:
    outcomes = dict(
        con.execute(
            f"SELECT {column}, count(*) FROM judged GROUP BY {column} ORDER BY {column}"
        ).fetchall()
    )
    kinds = list(totals)
    caught = [
        f"count(*) FILTER (WHERE {column} <> 'allow' AND list_contains(kinds, {_kind(k)}))"
        for k in kinds
    ]
    flagged_good, gmv, loss, *by_kind = _one(
        con,
        f"SELECT count(*) FILTER (WHERE {column} <> 'allow' AND NOT bad), "
        f"COALESCE(sum(amount) FILTER (WHERE {column} = 'deny'), 0), "
        f"COALESCE(sum(amount) FILTER (WHERE {column} = 'deny' AND bad), 0)"
        + "".join(f", {c}" for c in caught)
        + " FROM judged",
    )
    return {
        "outcomes": outcomes,
        "caught": {k: _ratio(n, totals[k]) for k, n in zip(kinds, by_kind, strict=True)},
        "false_positive_rate": _ratio(flagged_good, good),
        "gmv_denied": round(float(gmv), 2),
        "loss_prevented": round(float(loss), 2),
        "review_load": outcomes.get("review", 0),
    }
