"""Backtests: what a candidate ruleset would have decided on past events, beside the active
one, with the labels that arrived later joined - computed in columns with DuckDB.

1. One pass over the log loads every event's entities (``backtest_load``).
2. Window functions give every checkpoint event its features as of one microsecond before it
   (``riskops.core.decisions.columnar``): never the event itself, never later data.
3. Every rule of both rulesets becomes one boolean column (NULL: failed at run time).
4. Outcome and score per ruleset as the engine combines them (most severe active hit, weights
   added up to 100, a failing active rule makes it review when the checkpoint fails closed),
   then the active policy (score thresholds by market phase, the COD switch).
5. The report: per rule and per ruleset, against the labels.

Lists are today's entries (with their expiry): lists are not versioned in time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import duckdb

from riskops.core.decisions.columnar import ENTITY_COLUMNS, features_query, rule_sql
from riskops.core.decisions.features import feature_table
from riskops.core.decisions.policy import Policy, apply_policy
from riskops.core.decisions.ruleset import OUTCOMES, Ruleset
from riskops.core.decisions.schema import (
    CHECKPOINTS,
    MODEL_SCORE,
    blocked_users_entity,
    context_schema,
)
from riskops.core.entities.extract import metric_name
from riskops.core.events.catalogue import CATALOGUE
from riskops.core.rules.sql import quote_ident
from riskops.errors import Problem, ValidationFailed
from riskops.services.backtest_load import Request, arrow_tables, load, needed_entities
from riskops.services.backtest_model import add_model_scores
from riskops.services.backtest_report import report
from riskops.services.lists import ListsCache
from riskops.services.model_serving import ModelServing
from riskops.services.policy import PolicyService
from riskops.services.rules import RulesService, compile_ruleset
from riskops.stores.base import Store

Progress = Callable[[int, int], None]
_ALLOWABLE = ("user", "device", "ip", "address", "instrument")


NOT_REPLAYED = ("credit.", "customer.")
"""Context paths from the credit snapshot: a backtest refuses a ruleset that reads them (and
applies no credit privileges), since the snapshot is not point-in-time."""


class BacktestService:
    def __init__(
        self,
        store: Store,
        secret: bytes,
        rules: RulesService,
        lists: ListsCache,
        policy: PolicyService | None = None,
        models: ModelServing | None = None,
    ) -> None:
        self._models = models
        self._store = store
        self._secret = secret
        self._rules = rules
        self._lists = lists
        self._policy = policy

    def run(
        self,
        text: str,
        *,
        since_us: int | None = None,
        until_us: int | None = None,
        against_active: bool = True,
        progress: Progress | None = None,
        events: Store | None = None,
    ) -> dict[str, Any]:
        """The report of ruleset ``text`` (YAML) over the log's events of its checkpoint that
        occurred in ``[since, until)``, beside the active ruleset. ``events``: read the events
        from this store's log instead (e.g. a scratch log loaded from a file); rulesets, lists
        and policy stay this runtime's."""
        candidate = compile_ruleset(text)
        active = self._rules.active(candidate.checkpoint) if against_active else None
        baseline: Ruleset | None = active[1] if active else None
        clock = _Stopwatch()
        with duckdb.connect() as con:
            model = self._decide(
                con, candidate, baseline, since_us, until_us, progress, events, clock
            )
            result = report(con, [c.rule.id for c in candidate.live_rules], baseline is not None)
            clock.lap("outcomes and report")
        result.update(
            checkpoint=candidate.checkpoint,
            candidate_rules=len(candidate.live()),
            baseline_version=active[0] if active else None,
            model=model,
            since=since_us,
            until=until_us,
            timing_s=clock.laps,
        )
        return result

    def decisions(
        self, text: str, *, events: Store | None = None, progress: Progress | None = None
    ) -> list[tuple[str, str, float, bool]]:
        """What ruleset ``text`` (and the active policy) decides on every event of its
        checkpoint in the log: ``(event_id, outcome, amount, switched to online payment)``,
        in log order."""
        candidate = compile_ruleset(text)
        with duckdb.connect() as con:
            self._decide(con, candidate, None, None, None, progress, events, _Stopwatch())
            rows = con.execute(
                "SELECT ev.event_id, o.outcome, h.amount, o.switched FROM outcomes o "
                "JOIN ev USING (seq) JOIN hits h USING (seq) WHERE o.side = 'c' ORDER BY seq"
            ).fetchall()
        return [(str(e), str(o), float(a), bool(w)) for e, o, a, w in rows]

    def _decide(
        self,
        con: duckdb.DuckDBPyConnection,
        candidate: Ruleset,
        baseline: Ruleset | None,
        since_us: int | None,
        until_us: int | None,
        progress: Progress | None,
        events: Store | None,
        clock: _Stopwatch,
    ) -> str | None:
        """Leave in ``con`` the tables ``ev``, ``hits`` (a column per rule: c0 … for the
        candidate, b0 … for the baseline, and the model's score) and ``outcomes`` (per event
        and side); returns the model that scored (``name:version``), if any."""
        checkpoint = candidate.checkpoint
        policy = self._policy.active()[1] if self._policy else Policy()
        needed = candidate.fields | (baseline.fields if baseline else frozenset())
        for path in sorted(needed):
            if path.startswith(NOT_REPLAYED):
                reason = "reads the credit snapshot, which is today's, not the event's time: "
                raise ValidationFailed(
                    "not replayable", [Problem(path, reason + "backtests cannot replay it")]
                )
        slot = self._models.slot(checkpoint) if self._models is not None else None
        if slot is not None and slot.error is not None:
            raise ValidationFailed("model unavailable", [Problem(MODEL_SCORE, slot.error)])
        if slot is not None and slot.champion is not None:
            needed = needed | frozenset(slot.champion.features)
        schema = context_schema(checkpoint)
        features = feature_table()
        windows = [features[p][3] for p in needed if p in features]
        graph = [p for p in needed if blocked_users_entity(p)]
        addresses, instruments, phones = needed_entities(needed)
        req = Request(
            types=frozenset(CHECKPOINTS[checkpoint].event_types),
            event_fields={
                p: schema[p]
                for p in sorted(needed)
                if p not in features and p not in graph and p != MODEL_SCORE
            },
            since_us=since_us,
            until_us=until_us,
            # the graph is all of history; the windows reach back at most 90 days
            history_us=(1 << 62) if graph else max(windows, default=0) * 1_000_000,
            addresses=addresses,
            instruments=instruments,
            phones=phones,
        )
        cols = load(events or self._store, self._secret, req, progress)
        clock.lap("read the log")
        self._lists.refresh()
        for name, table in arrow_tables(cols, req.event_fields).items():
            con.register(f"{name}_arrow", table)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        self._lists_table(con)
        allowed = self._allowed_columns(con, candidate, baseline)
        types_of: dict[str, list[str]] = {}
        for event_type in CATALOGUE:
            types_of.setdefault(metric_name(event_type), []).append(event_type)
        con.execute(
            "CREATE TABLE ctx AS SELECT cp.*, ev.ts, ev.user_id, ev.device, ev.ip, ev.ip24,"
            " ev.address, ev.phone, ev.instrument, ev.campaign, f.* EXCLUDE (seq) "
            "FROM cp JOIN ev USING (seq) "
            f"JOIN ({features_query(needed, types_of, self._source(con, graph))}) f "
            "USING (seq)"
        )
        if slot is not None and slot.champion is not None:
            add_model_scores(con, slot)
        else:  # no model: a rule reading model.score fails, as live
            con.execute(f"ALTER TABLE ctx ADD COLUMN {quote_ident(MODEL_SCORE)} DOUBLE")
        clock.lap("features")
        hit_cols = [
            f"{rule_sql(c, schema, allowed)} AS c{i}" for i, c in enumerate(candidate.live_rules)
        ]
        if baseline is not None:
            hit_cols += [
                f"{rule_sql(c, schema, allowed)} AS b{i}" for i, c in enumerate(baseline.live_rules)
            ]
        con.execute(
            "CREATE TABLE hits AS SELECT seq, market, payment_method, amount, "
            f"{quote_ident(MODEL_SCORE)} AS model_score"
            + "".join(f", {h}" for h in hit_cols)
            + " FROM ctx"
        )
        clock.lap("rules")
        fail = policy.fail_mode_for(checkpoint)
        sides = {"c": candidate} | ({"b": baseline} if baseline is not None else {})
        _outcomes(con, sides, fail, policy, checkpoint)
        champion = slot.champion if slot is not None else None
        return None if champion is None else f"{champion.name}:{champion.version}"

    def _source(self, con: duckdb.DuckDBPyConnection, graph: list[str]) -> str:
        """The events, with ``user_blocked`` (the account is on a block list at the row's
        time) when a ``graph.*.blocked_users`` feature needs it."""
        if not graph:
            return "ev"
        blocks = [
            (e.entity_id, e.expires_at_us)
            for e in self._lists.snapshot()
            if e.kind == "block" and e.entity_type == "user"
        ]
        con.execute("CREATE TABLE blocks (id VARCHAR, expires BIGINT)")
        if blocks:
            con.executemany("INSERT INTO blocks VALUES (?, ?)", blocks)
        con.execute(
            "CREATE VIEW evb AS SELECT *, EXISTS (SELECT 1 FROM blocks b WHERE b.id = user_id "
            "AND (b.expires IS NULL OR b.expires > ts)) AS user_blocked FROM ev"
        )
        return "evb"

    def _lists_table(self, con: duckdb.DuckDBPyConnection) -> None:
        entries = self._lists.snapshot()
        con.execute("CREATE TABLE lists (name VARCHAR, value VARCHAR, expires BIGINT)")
        if entries:
            con.executemany(
                "INSERT INTO lists VALUES (?, ?, ?)",
                [(e.list_name, e.entity_id, e.expires_at_us) for e in entries],
            )

    def _allowed_columns(
        self, con: duckdb.DuckDBPyConnection, *rulesets: Ruleset | None
    ) -> dict[str, str]:
        """``allowed_<entity>``: the event's entity was on an allow list at its time; only the
        entity types some rule lets an allow-listed entity skip."""
        skippable = {
            t for rs in rulesets if rs for c in rs.live_rules for t in c.rule.skip_if_allowed
        }
        allows = [e for e in self._lists.snapshot() if e.kind == "allow"]
        out: dict[str, str] = {}
        if allows:
            con.execute("CREATE TABLE allows (etype VARCHAR, id VARCHAR, expires BIGINT)")
            con.executemany(
                "INSERT INTO allows VALUES (?, ?, ?)",
                [(e.entity_type, e.entity_id, e.expires_at_us) for e in allows],
            )
        for t in _ALLOWABLE:
            if t in skippable and allows:
                column = ENTITY_COLUMNS[t]
                out[t] = (
                    f"EXISTS (SELECT 1 FROM allows a WHERE a.etype = '{t}' AND a.id = {column} "
                    "AND (a.expires IS NULL OR a.expires > ts))"
                )
        return out


class _Stopwatch:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now


def _outcomes(
    con: duckdb.DuckDBPyConnection,
    sides: dict[str, Ruleset],
    fail_mode: str,
    policy: Policy,
    checkpoint: str,
) -> None:
    """``outcomes``: per event and side (c: candidate, b: baseline) the final outcome."""
    parts = []
    for side, ruleset in sides.items():
        severity, score = ["0"], []
        for i, c in enumerate(ruleset.live_rules):
            rule, col = c.rule, f"{side}{i}"
            if rule.state != "active":
                continue  # shadow rules record hits, never change an outcome
            severity.append(f"CASE WHEN {col} THEN {OUTCOMES.index(rule.outcome)} ELSE 0 END")
            if fail_mode == "closed":
                review = OUTCOMES.index("review")
                severity.append(f"CASE WHEN {col} IS NULL THEN {review} ELSE 0 END")
            if rule.score:
                score.append(f"CASE WHEN {col} THEN {rule.score} ELSE 0 END")
        total = " + ".join(score) if score else "0"
        parts.append(
            f"SELECT seq, market, payment_method, '{side}' AS side, "
            f"GREATEST({', '.join(severity)}) AS severity, GREATEST(LEAST(100, {total}), "
            "COALESCE(CAST(FLOOR(model_score + 0.5) AS INTEGER), 0)) AS score FROM hits"
        )
    con.execute("CREATE TABLE raw_outcomes AS " + " UNION ALL ".join(parts))
    combos = con.execute(
        "SELECT DISTINCT market, payment_method, severity, score FROM raw_outcomes"
    ).fetchall()
    final = []
    for m, pm, sev, score in combos:
        applied = apply_policy(policy, checkpoint, m, pm, OUTCOMES[sev], score, [])
        switched = "require_online_payment" in applied.actions
        final.append((m, pm, sev, score, applied.outcome, switched))
    con.execute(
        "CREATE TABLE policy_map (market VARCHAR, payment_method VARCHAR, severity INTEGER, "
        "score INTEGER, outcome VARCHAR, switched BOOLEAN)"
    )
    if final:
        con.executemany("INSERT INTO policy_map VALUES (?, ?, ?, ?, ?, ?)", final)
    con.execute(
        "CREATE TABLE outcomes AS SELECT r.seq, r.side, p.outcome, p.switched "
        "FROM raw_outcomes r JOIN policy_map p ON p.market = r.market "
        "AND p.severity = r.severity AND p.score = r.score "
        "AND p.payment_method IS NOT DISTINCT FROM r.payment_method"
    )
