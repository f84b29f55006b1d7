"""Backtests: replay the event log against a candidate ruleset beside the active one, with
features as they were at each event (the online state rebuilt in log order as the replay goes:
never later data), then join the labels that arrived later (``riskops.core.decisions.backtest``).

Lists are today's (the lists are not versioned in time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from riskops.core.decisions.backtest import Backtest, Evaluated, label_keys, labels_of
from riskops.core.decisions.engine import Evaluation, evaluate
from riskops.core.decisions.features import event_fields, state_features
from riskops.core.decisions.ruleset import Ruleset
from riskops.core.decisions.schema import CHECKPOINTS
from riskops.core.entities import Extraction, extract
from riskops.core.events.envelope import from_us
from riskops.core.state.buckets import BucketStore
from riskops.services.lists import ListsCache
from riskops.services.rules import RulesService, compile_ruleset
from riskops.stores.base import Store

Progress = Callable[[int, int], None]
_CHUNK = 5000


class BacktestService:
    def __init__(self, store: Store, secret: bytes, rules: RulesService, lists: ListsCache) -> None:
        self._store = store
        self._secret = secret
        self._rules = rules
        self._lists = lists

    def run(
        self,
        text: str,
        *,
        since_us: int | None = None,
        until_us: int | None = None,
        against_active: bool = True,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """The report of ruleset ``text`` (YAML) over the log's events of its checkpoint that
        occurred in ``[since, until)``, beside the active ruleset."""
        candidate = compile_ruleset(text)
        checkpoint = candidate.checkpoint
        active = self._rules.active(checkpoint) if against_active else None
        baseline: Ruleset | None = active[1] if active else None
        needed = candidate.fields | (baseline.fields if baseline else frozenset())
        types = set(CHECKPOINTS[checkpoint].event_types)
        self._lists.refresh()
        replay = BucketStore()
        bt = Backtest(tuple(r.rule.id for r in candidate.live()))
        with self._store.begin() as uow:
            total = uow.events.last_seq()
        cursor = 0
        while True:
            with self._store.begin() as uow:
                rows = uow.events.read_after(cursor, _CHUNK)
            if not rows:
                break
            for row in rows:
                record: dict[str, Any] = orjson.loads(row.body)
                bt.add_labels(labels_of(record))
                x = extract(record, self._secret)
                at = row.occurred_at_us
                in_range = (since_us is None or at >= since_us) and (
                    until_us is None or at < until_us
                )
                if record["type"] in types and in_range:
                    bt.evaluated.append(
                        self._evaluated(record, x, at, replay, needed, candidate, baseline)
                    )
                if x.updates:
                    replay.merge(replay.prepare(x.updates))
            cursor = rows[-1].seq
            if progress is not None:
                progress(cursor, max(total, cursor))
        report = bt.report()
        report.update(
            checkpoint=checkpoint,
            candidate_rules=len(candidate.live()),
            baseline_version=active[0] if active else None,
            since=since_us,
            until=until_us,
        )
        return report

    def _evaluated(
        self,
        record: dict[str, Any],
        x: Extraction,
        at: int,
        replay: BucketStore,
        needed: frozenset[str],
        candidate: Ruleset,
        baseline: Ruleset | None,
    ) -> Evaluated:
        """Both rulesets on one event, with the features as they were just before it."""
        ids = {
            "user": record.get("user_id"),
            "device": (record.get("device") or {}).get("fingerprint"),
            "ip": record.get("ip"),
        }
        for kind in ("ip24", "address", "instrument"):
            ids[kind] = min((i for t, i in x.nodes if t == kind), default=None)
        fields = event_fields(record, from_us(at).hour)
        fields.update(
            state_features(needed, ids, lambda t, i, w, m: replay.windows(t, i, w, at - 1, m))
        )
        lists = self._lists
        allowed = frozenset(
            t
            for t, i in ids.items()
            if i and any(e.kind == "allow" for e in lists.memberships(t, i, at))
        )

        def run(ruleset: Ruleset) -> Evaluation:
            return evaluate(
                ruleset,
                fields,
                in_list=lambda name, value: lists.contains(name, str(value), at),
                allowed=allowed,
                trace=False,
            )

        amount = fields.get("event.amount")
        return Evaluated(
            str(record["event_id"]),
            label_keys(record),
            float(amount) if isinstance(amount, int | float) else 0.0,
            run(candidate),
            run(baseline) if baseline else None,
        )
