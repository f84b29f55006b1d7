"""Decisions at a checkpoint: validate the event, compute the features the active rules read
(point in time: the state as it was before this event), evaluate, record the event in the log
and the decision with its trace. Owns the transactions."""

from __future__ import annotations

import functools
import os
import random
import time
from dataclasses import dataclass
from typing import Any

import orjson

from riskops.core.decisions.engine import evaluate
from riskops.core.decisions.features import entity_ids, event_fields, state_features
from riskops.core.decisions.policy import Policy, apply_policy, score_outcome
from riskops.core.decisions.privileges import apply_privileges
from riskops.core.decisions.ruleset import Ruleset
from riskops.core.decisions.schema import (
    BLOCKED_USERS_LIMIT,
    CHECKPOINTS,
    CREDIT_SCORE,
    CREDIT_TIER,
    VALUE_SEGMENT,
    blocked_users_entity,
)
from riskops.core.events.envelope import to_us
from riskops.errors import NotFound, Problem, ValidationFailed
from riskops.services.clock import Clock
from riskops.services.decision_answer import (
    OPTIONAL_KEYS,
    RESPONSE_KEYS,
    amount_usd,
    credit_part,
    response_body,
)
from riskops.services.ingest import IngestService, Prepared
from riskops.services.lists import ListsCache
from riskops.services.model_scoring import ModelPart, model_reason, score_models
from riskops.services.model_serving import ModelServing, Slot, model_fields
from riskops.services.policy import PolicyService
from riskops.services.rules import RulesService, check_checkpoint
from riskops.services.standing import StandingCache
from riskops.stores.base import OnlineState, Store
from riskops.stores.decision_base import DecisionRow

# Decision ids: 128 random bits, without a system call per decision (uuid4 reads
# os.urandom, a measurable share of a decision's time). Seeded from os.urandom, and reseeded
# in a forked child so two processes never share a sequence.
_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


def new_decision_id() -> str:
    return f"dec_{_ids.getrandbits(128):032x}"


_PASSING = ("allow", "challenge")
_ALLOWABLE = ("user", "device", "ip", "address", "instrument")


@dataclass(frozen=True, slots=True)
class PendingDecision:
    prepared: Prepared
    row: DecisionRow
    response: dict[str, Any]


@functools.cache
def _empty_ruleset(checkpoint: str) -> Ruleset:
    """The ruleset of a checkpoint with none active (one object, so caches keyed on it hit)."""
    return Ruleset(checkpoint, ())


def _entity_ids(record: dict[str, Any], prepared: Prepared) -> dict[str, str | None]:
    nodes = prepared.extraction.nodes if prepared.extraction else set()
    return entity_ids(record, nodes)


class DecisionService:
    def __init__(
        self,
        store: Store,
        state: OnlineState,
        ingest: IngestService,
        rules: RulesService,
        lists: ListsCache,
        clock: Clock,
        policy: PolicyService,
        models: ModelServing | None = None,
        standing: StandingCache | None = None,
    ) -> None:
        self._models = models
        self._standing = standing
        self._paths: dict[tuple[str, bool], tuple[Ruleset, Slot | None, tuple[str, ...]]] = {}
        self._store = store
        self._state = state
        self._ingest = ingest
        self._rules = rules
        self._lists = lists
        self._clock = clock
        self._policy = policy

    def prepare(self, checkpoint: str, raw: object) -> Prepared:
        """Validate the request's event for ``checkpoint`` (404 / 422 naming the fields)."""
        check_checkpoint(checkpoint)
        good, bad = self._ingest.prepare([raw])
        if bad:
            raise ValidationFailed("invalid event", bad[0].problems)
        prepared = good[0]
        allowed = CHECKPOINTS[checkpoint].event_types
        if prepared.row.type not in allowed:
            reason = f"the {checkpoint} checkpoint takes {', '.join(allowed)}"
            raise ValidationFailed("wrong event type", [Problem("type", reason)])
        return prepared

    def evaluate(self, checkpoint: str, raw: object) -> PendingDecision:
        """Validate and decide, without writing: the event to append and the decision record
        to store with it (in one transaction: see :meth:`decide`, or the API's group commit)."""
        started = time.perf_counter()
        prepared = self.prepare(checkpoint, raw)
        record: dict[str, Any] = orjson.loads(prepared.row.body)
        at_us = prepared.row.occurred_at_us
        active = self._rules.active(checkpoint)
        version, ruleset = active if active else (None, _empty_ruleset(checkpoint))
        ids = _entity_ids(record, prepared)
        fields = event_fields(record, at_us)
        payment_method = (record.get("payload") or {}).get("payment_method")
        slot = self._models.slot(checkpoint) if self._models is not None else None
        if slot is not None and not slot.applies(payment_method):
            slot = None
        paths = self._paths_for(checkpoint, ruleset, slot)
        fields.update(
            state_features(
                paths,
                ids,
                lambda t, i, w, m: self._state.windows(t, i, w, at_us - 1, m),  # before the event
                at_us,
            )
        )
        lists = self._lists
        lists.refresh()
        fields.update(self._blocked_users(ruleset, ids, at_us))
        policy_version, policy = self._policy.active()
        fail_mode = policy.fail_mode_for(checkpoint)
        scored = score_models(slot, fields)
        standing = self._standing.of(record.get("user_id")) if self._standing else None
        fields[CREDIT_SCORE] = standing.score if standing else None
        fields[CREDIT_TIER] = standing.tier if standing else None
        fields[VALUE_SEGMENT] = standing.value_segment if standing else None
        allowed = frozenset(
            t
            for t in _ALLOWABLE
            if ids.get(t)
            and any(e.kind == "allow" for e in lists.memberships(t, ids[t] or "", at_us))
        )
        result = evaluate(
            ruleset,
            fields,
            in_list=lambda name, value: lists.contains(name, str(value), at_us),
            allowed=allowed,
            fail_mode=fail_mode,
            trace=False,  # rebuilt when the decision is read (see get)
        )
        score = max(result.score, scored.whole_score)
        rules_outcome = result.outcome
        if (
            scored.error is not None
            and fail_mode == "closed"
            and rules_outcome in ("allow", "challenge")
        ):
            rules_outcome = "review"  # the model is down: closed means nothing passes unseen
        applied = apply_policy(
            policy,
            checkpoint,
            record["market"],
            payment_method,
            rules_outcome,
            score,
            result.actions,
        )
        granted = (
            None
            if standing is None
            else apply_privileges(
                checkpoint,
                applied.outcome,
                applied.actions,
                standing,
                amount_usd(record),
                payment_method,
                rules_outcome,
            )
        )
        decision_id = new_decision_id()
        response = response_body(decision_id, checkpoint, prepared, result, version, started)
        response.update(
            outcome=granted.outcome if granted else applied.outcome,
            actions=granted.actions if granted else applied.actions,
            score=score,
        )
        response["versions"]["policy"] = policy_version
        self._model_answer(response, scored, policy, (record["market"], checkpoint), fields)
        response["policy"] = {
            "market": record["market"],
            "phase": applied.phase,
            "thresholds": applied.thresholds,
            "rules_outcome": result.outcome,
            "note": applied.note,
            "credit": credit_part(standing, granted),
        }
        full = {
            **response,
            "trace": result.trace,
            "skipped": result.skipped,
            # what the evaluation depended on: enough to rebuild its trace node by node
            "fields": {k: fields.get(k) for k in sorted({*paths, *scored.fields})},
            "challenger": scored.challenger_dict(),
            "list_lookups": result.lookups,
            "allowed": sorted(allowed),
            "fail_mode": fail_mode,
        }
        row = DecisionRow(
            decision_id,
            checkpoint,
            prepared.row.event_id,
            applied.outcome,
            result.score,
            to_us(self._clock()),
            orjson.dumps(full).decode(),
        )
        response["replayed"] = False
        return PendingDecision(prepared, row, response)

    def _paths_for(self, checkpoint: str, ruleset: Ruleset, slot: Slot | None) -> tuple[str, ...]:
        """The context paths to compute: the rules' and the models' (cached per ruleset and
        model slot; with and without a model apart, as COD and other orders alternate)."""
        key = (checkpoint, slot is None)
        cached = self._paths.get(key)
        if cached is not None and cached[0] is ruleset and cached[1] is slot:
            return cached[2]
        paths = model_fields(slot, sorted(ruleset.fields))
        self._paths[key] = (ruleset, slot, paths)
        return paths

    def _model_answer(
        self,
        response: dict[str, Any],
        scored: ModelPart,
        policy: Policy,
        where: tuple[str, str],
        fields: dict[str, Any],
    ) -> None:
        """The model's part of the answer: its version and score; for a non-allow outcome its
        top contributing features, and a reason when its score alone is past a threshold of
        the policy at ``where`` (market, checkpoint)."""
        if scored.champion is None and scored.error is None:
            return
        response["versions"]["model"] = scored.version_label
        part = scored.as_dict()
        if response["outcome"] != "allow" and scored.champion is not None:
            part["contributions"] = scored.contributions(fields)
            if score_outcome(policy, where[0], scored.whole_score, where[1]) != "allow":
                response["reasons"].append(model_reason(scored, part["contributions"]))
        if scored.error is not None:
            response["errors"].append({"rule_id": "model", "message": scored.error, "position": ""})
        response["model"] = part

    def reads_graph(self, checkpoint: str) -> bool:
        """Whether the active rules at ``checkpoint`` read the entity graph (a database read)."""
        active = self._rules.active(checkpoint)
        return active is not None and any(blocked_users_entity(p) for p in active[1].fields)

    def _blocked_users(
        self, ruleset: Ruleset, ids: dict[str, str | None], at_us: int
    ) -> dict[str, int | None]:
        """``graph.<entity>.blocked_users``: the accounts linked to the entity before this
        event that are on a block list at its time (None when the event has no such entity)."""
        out: dict[str, int | None] = {}
        for path in ruleset.fields:
            entity = blocked_users_entity(path)
            if entity is None:
                continue
            entity_id = ids.get(entity)
            if not entity_id:
                out[path] = None
                continue
            with self._store.begin() as uow:
                links = uow.graph.links(
                    entity, entity_id, limit=BLOCKED_USERS_LIMIT, types=["user"]
                )
            out[path] = sum(
                1
                for link in links
                if link.first_seen_us < at_us
                and any(e.kind == "block" for e in self._lists.memberships("user", link.id, at_us))
            )
        return out

    def decide(self, checkpoint: str, raw: object) -> dict[str, Any]:
        """Decide, and record the event and the decision in one transaction."""
        pending = self.evaluate(checkpoint, raw)
        (logged,), appended = self._ingest.append([pending.prepared], [pending.row])
        self._ingest.project(appended)
        return self.settle(pending, logged.status == "duplicate")

    def settle(self, pending: PendingDecision, repeated_event: bool) -> dict[str, Any]:
        """The answer once the event is logged. A new event's decision was recorded with it.
        For an event already in the log, the decision first recorded for it at this
        checkpoint is the answer (a retry gets the same decision, marked ``replayed``); if
        there is none, this one is recorded now."""
        if not repeated_event:
            return pending.response
        row = pending.row
        with self._store.begin(write=True) as uow:
            earlier = uow.decisions.for_event(row.checkpoint, row.event_id)
            if earlier is None:
                uow.decisions.add(row)
                uow.commit()
                return pending.response
        body: dict[str, Any] = orjson.loads(earlier.body)
        response = {k: body[k] for k in RESPONSE_KEYS}
        response.update({k: body[k] for k in OPTIONAL_KEYS if k in body})
        response["replayed"] = True
        return response

    def get(self, decision_id: str) -> dict[str, Any]:
        """A recorded decision with its full evaluation trace."""
        with self._store.begin() as uow:
            row = uow.decisions.get(decision_id)
        if row is None:
            raise NotFound(f"no decision {decision_id!r}")
        body: dict[str, Any] = orjson.loads(row.body)
        version = body["versions"]["ruleset"]
        if version is not None:  # replay with the trace on: deterministic from what was stored
            lookups: dict[str, bool] = body["list_lookups"]
            replay = evaluate(
                self._rules.compiled(row.checkpoint, version),
                body["fields"],
                in_list=lambda name, value: lookups.get(f"{name}\x1f{value}", False),
                allowed=frozenset(body["allowed"]),
                fail_mode=body["fail_mode"],
            )
            body["trace"] = replay.trace
        return body
