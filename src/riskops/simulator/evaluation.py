"""Scoring decisions against the simulator's ground truth (pure): per attack, the share of its
labelled decision events that were stopped (any outcome but allow, or COD switched to online
payment), the false-positive rate on unlabelled traffic per checkpoint, GMV protected, review
load, and the cash-on-delivery refusal rate before and after the COD switch - beside the
floors the field reports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from riskops.simulator.config import MARKETS

FLOORS: dict[str, float] = {"brushing": 0.95, "coupon_abuse": 0.90}
"""Share caught that real platforms report (brushing orders 95 %, abuse scripts 90 %)."""
MAX_FP = 0.01
COD_TARGET = 0.08
DECIDED_AT: dict[str, frozenset[str]] = {
    # where each attack is stopped: an attack's events at other checkpoints are not its
    # decisions (a return on a brushed order is not the brushing)
    "brushing": frozenset({"order"}),
    "coupon_abuse": frozenset({"coupon_claim", "registration", "order"}),
    "account_takeover": frozenset({"login", "order"}),
    "refund_abuse": frozenset({"refund_request"}),
    "fake_discount": frozenset({"listing"}),
}
_ACCOUNT_LEVEL = frozenset({"user.registered", "refund.requested", "return.requested"})
"""Events judged by their account: a farm's sign-ups, a refund abuser's claims."""
CHECKPOINT_OF: dict[str, str] = {
    "order.placed": "order",
    "coupon.claimed": "coupon_claim",
    "login.succeeded": "login",
    "user.registered": "registration",
    "refund.requested": "refund_request",
    "return.requested": "refund_request",
    "listing.created": "listing",
    "listing.updated": "listing",
}

Key = tuple[str, str]
"""A labelled entity: (entity type, entity id)."""


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: str
    amount: float
    switched: bool = False

    @property
    def stopped(self) -> bool:
        return self.outcome != "allow" or self.switched


@dataclass
class EventIndex:
    """What scoring needs of the events: each decided event's checkpoint and keys, and the
    cash-on-delivery orders and how they ended."""

    scored_from: str = ""
    """Decisions on events before this time (RFC 3339) are not scored: the warm-up, when
    features have no history yet."""
    checkpoint: dict[str, str] = field(default_factory=dict)  # event id -> checkpoint
    keys: dict[str, tuple[Key, ...]] = field(default_factory=dict)
    cod_orders: dict[str, str] = field(default_factory=dict)  # order id -> its event id
    usd: dict[str, float] = field(default_factory=dict)  # event id -> local units per USD
    refused: set[str] = field(default_factory=set)
    delivered: set[str] = field(default_factory=set)

    created_listings: set[str] = field(default_factory=set)
    """``listing.created`` events: a fake discount is claimed by the update that follows."""

    def context_only(self, event_id: str) -> bool:
        return event_id in self.created_listings

    def add(self, event: Mapping[str, Any]) -> None:
        kind = event["type"]
        payload = event.get("payload") or {}
        if kind == "order.cod_refused":
            self.refused.add(payload["order_id"])
        elif kind == "order.delivered":
            self.delivered.add(payload["order_id"])
        checkpoint = CHECKPOINT_OF.get(kind)
        if checkpoint is None or event["occurred_at"] < self.scored_from:
            return
        event_id = event["event_id"]
        self.checkpoint[event_id] = checkpoint
        if kind == "listing.created":
            self.created_listings.add(event_id)
        keys = [("event", event_id)]
        if payload.get("order_id"):
            keys.append(("order", payload["order_id"]))
        if kind.startswith("listing.") and payload.get("listing_id"):
            keys.append(("listing", payload["listing_id"]))
        if kind in _ACCOUNT_LEVEL and event.get("user_id"):  # the account is the abuse
            keys.append(("user", event["user_id"]))
        self.usd[event_id] = (
            MARKETS[event["market"]].price_scale if event["market"] in MARKETS else 1.0
        )
        self.keys[event_id] = tuple(keys)
        if kind == "order.placed" and payload.get("payment_method") == "cod":
            self.cod_orders[payload["order_id"]] = event_id


def score(
    index: EventIndex,
    labels: Iterable[Mapping[str, Any]],
    decisions: Mapping[str, Mapping[str, Decision]],
) -> dict[str, Any]:
    """``decisions``: checkpoint -> event id -> decision. Labels of the COD refusal attack are
    scored as the refusal rate, not as events to stop."""
    attack_of: dict[Key, set[str]] = {}
    for label in labels:
        key = (str(label["entity_type"]), str(label["entity_id"]))
        attack_of.setdefault(key, set()).add(str(label["attack"]))
    per_attack: dict[str, dict[str, float]] = {}
    fp: dict[str, list[int]] = {}
    review_load = 0
    for checkpoint, decided in decisions.items():
        if checkpoint == "payment_method":
            continue
        for event_id, decision in decided.items():
            if event_id not in index.checkpoint:  # in the warm-up
                continue
            review_load += decision.outcome == "review"
            attacks: set[str] = set()
            for key in index.keys.get(event_id, ()):
                attacks |= attack_of.get(key, set())
            attacks.discard("cod_refusal")
            if not attacks:
                counts = fp.setdefault(checkpoint, [0, 0])
                counts[0] += decision.stopped
                counts[1] += 1
                continue
            decided_here = {a for a in attacks if checkpoint in DECIDED_AT.get(a, frozenset())}
            if not decided_here or index.context_only(event_id):
                continue  # an attack's event that is not its decision: neither caught nor legit
            for attack in decided_here:
                row = per_attack.setdefault(attack, {"events": 0, "caught": 0, "gmv": 0.0})
                row["events"] += 1
                row["caught"] += decision.stopped
                if decision.stopped and checkpoint == "order":
                    row["gmv"] += decision.amount / index.usd.get(event_id, 1.0)
    attacks_out = {
        attack: {
            "events": int(row["events"]),
            "caught": round(row["caught"] / row["events"], 4) if row["events"] else None,
            "gmv_protected_usd": round(row["gmv"], 2),
            "floor": FLOORS.get(attack),
        }
        for attack, row in sorted(per_attack.items())
    }
    fp_out = {cp: round(n / total, 5) if total else None for cp, (n, total) in sorted(fp.items())}
    cod = _cod(index, decisions.get("payment_method", {}), attack_of)
    floors = _floors(attacks_out, fp_out)
    after = cod["refusal_rate_after"]
    floors[f"COD refusals <= {COD_TARGET:.0%} after the switch"] = (
        after is not None and after <= COD_TARGET
    )
    return {
        "attacks": attacks_out,
        "false_positive_rate": fp_out,
        "review_load": review_load,
        "cod": cod,
        "floors": floors,
    }


def _cod(
    index: EventIndex, decided: Mapping[str, Decision], attack_of: Mapping[Key, set[str]]
) -> dict[str, Any]:
    """Refusals among cash-on-delivery parcels that were delivered or refused: as simulated,
    and among those left COD after the switch (a switched order is paid online, so it cannot
    be refused). The switch's cost: honest buyers' parcels (no attack label) that would have
    been accepted, asked to pay online instead."""
    resolved = [o for o in index.cod_orders if o in index.refused or o in index.delivered]
    kept = [o for o in resolved if not _switched(decided.get(index.cod_orders[o]))]
    before = sum(o in index.refused for o in resolved)
    after = sum(o in index.refused for o in kept)
    honest = [
        o
        for o in resolved
        if o in index.delivered
        and not any(attack_of.get(k) for k in index.keys.get(index.cod_orders[o], ()))
    ]
    honest_switched = sum(_switched(decided.get(index.cod_orders[o])) for o in honest)
    return {
        "cod_orders": len(resolved),
        "refusal_rate_before": round(before / len(resolved), 4) if resolved else None,
        "switched_to_online": len(resolved) - len(kept),
        "refusal_rate_after": round(after / len(kept), 4) if kept else None,
        "accepted_parcels_switched": round(honest_switched / len(honest), 4) if honest else None,
        "target": COD_TARGET,
    }


def _switched(decision: Decision | None) -> bool:
    return decision is not None and decision.switched


def _floors(attacks: Mapping[str, Any], fp: Mapping[str, float | None]) -> dict[str, bool]:
    rates = [v for v in fp.values() if v is not None]
    worst_fp = max(rates) if rates else 1.0  # no legitimate decision scored: nothing shown
    out = {
        f"{attack} >= {floor:.0%} caught": bool(
            attacks.get(attack, {}).get("caught") is not None and attacks[attack]["caught"] >= floor
        )
        for attack, floor in FLOORS.items()
    }
    out[f"false positives <= {MAX_FP:.0%} at every checkpoint"] = worst_fp <= MAX_FP
    return out
