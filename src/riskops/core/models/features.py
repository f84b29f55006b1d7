"""The models riskops trains, each at a decision checkpoint, with its default features and
labels (pure).

A feature is a path of the checkpoint's decision context (:mod:`riskops.core.decisions.schema`)
with a numeric type - ``int``, ``double`` or ``bool`` (read as 1 / 0) - so the same value the
decision API puts in the context at decision time is what the model was trained on. Left out
on purpose: ``graph.*.blocked_users`` (it reads today's block lists, not those of the event's
time) and ``event.time`` (an absolute time does not carry past the training window).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from riskops.core.decisions.schema import (
    CHECKPOINTS,
    MODEL_SCORE,
    blocked_users_entity,
    context_schema,
)

NUMERIC_TYPES = frozenset({"int", "double", "bool"})
NOT_POINT_IN_TIME = frozenset({"event.time"})


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    checkpoint: str
    event_types: tuple[str, ...]
    """The checkpoint's event types the model scores (a subset of the checkpoint's)."""
    features: tuple[str, ...]
    label_kinds: tuple[str, ...]
    """Default positives: events a label of one of these kinds names."""
    summary: str
    payment_method: str | None = None
    """Only events with this ``payment_method`` (e.g. ``cod``); None: all."""
    serve: bool = True
    """Scored in live decisions when promoted (one such model per checkpoint: its score is
    ``model.score``); False for a model of an outcome rather than of risk."""


MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec(
            "order_fraud",
            "order",
            ("order.placed",),
            (
                "velocity.user.orders_1h",
                "velocity.user.orders_24h",
                "velocity.user.orders_7d",
                "velocity.user.order_amount_24h",
                "velocity.device.orders_24h",
                "velocity.ip24.orders_1h",
                "velocity.ip.orders_24h",
                "graph.device.distinct_users_7d",
                "graph.device.distinct_users_30d",
                "graph.address.distinct_users_7d",
                "graph.ip.distinct_users_7d",
                "velocity.user.failed_logins_24h",
                "velocity.user.devices_30d",
                "last.user.address_changes",
                "last.device.logins",
                "last.user.orders",
                "event.amount",
                "event.items_count",
                "event.hour",
            ),
            ("brushing", "account_takeover", "fraud"),
            "Fraudulent orders: brushing rings, orders from taken-over accounts, chargebacks.",
        ),
        ModelSpec(
            "coupon_abuse",
            "coupon_claim",
            ("coupon.claimed", "coupon.redeemed"),
            (
                "velocity.device.coupon_claims_24h",
                "velocity.ip24.coupon_claims_1h",
                "velocity.device.registrations_24h",
                "velocity.ip.registrations_24h",
                "graph.device.distinct_users_24h",
                "graph.ip.distinct_users_24h",
                "campaign.device.coupon_claims_30d",
                "campaign.address.coupon_claims_30d",
                "last.user.registrations",
                "velocity.user.orders_30d",
                "velocity.user.logins_7d",
                "device.emulator",
                "event.value",
                "event.hour",
            ),
            ("coupon_abuse",),
            "Coupon claims and redemptions by farmed or scripted accounts.",
        ),
        ModelSpec(
            "account_takeover",
            "login",
            ("login.succeeded",),
            (
                "velocity.user.failed_logins_1h",
                "velocity.user.failed_logins_24h",
                "velocity.device.failed_logins_1h",
                "velocity.ip.failed_logins_1h",
                "velocity.user.devices_30d",
                "velocity.user.ips_30d",
                "graph.device.distinct_users_30d",
                "graph.ip.distinct_users_24h",
                "last.device.logins",
                "last.user.logins",
                "velocity.device.logins_30d",
                "event.hour",
            ),
            ("account_takeover",),
            "Logins into taken-over accounts.",
        ),
        ModelSpec(
            "cod_refusal",
            "payment_method",
            ("order.placed",),
            (
                "velocity.user.cod_refusals_90d",
                "velocity.address.cod_refusals_90d",
                "velocity.device.cod_refusals_90d",
                "graph.address.distinct_users_30d",
                "velocity.user.orders_90d",
                "velocity.user.cancellations_90d",
                "velocity.user.order_amount_30d",
                "last.user.orders",
                "event.amount",
                "event.items_count",
                "event.hour",
            ),
            ("cod_refusal",),
            "Cash-on-delivery parcels the buyer will refuse.",
            payment_method="cod",
        ),
        ModelSpec(
            "refund_abuse",
            "refund_request",
            ("refund.requested", "return.requested"),
            (
                "velocity.user.refunds_30d",
                "velocity.user.refunds_90d",
                "velocity.user.returns_30d",
                "velocity.user.returns_90d",
                "velocity.user.refund_amount_30d",
                "velocity.user.orders_30d",
                "velocity.user.chargebacks_90d",
                "velocity.device.refunds_30d",
                "graph.device.distinct_users_30d",
                "last.user.orders",
                "event.amount",
            ),
            ("refund_abuse",),
            "Refund and return requests from serial abusers.",
        ),
        ModelSpec(
            "return_risk",
            "order",
            ("order.placed",),
            (
                "velocity.user.page_views_1h",
                "velocity.user.page_views_24h",
                "velocity.user.sessions_24h",
                "velocity.user.searches_24h",
                "velocity.user.cart_adds_1h",
                "velocity.user.cart_adds_24h",
                "velocity.user.cart_removals_1h",
                "velocity.user.cart_removals_24h",
                "velocity.user.checkouts_24h",
                "last.user.page_views",
                "last.user.cart_adds",
                "last.user.sessions",
                "velocity.user.orders_90d",
                "velocity.user.returns_90d",
                "event.amount",
                "event.items_count",
            ),
            ("returned",),
            "Orders the buyer will ask to return, from the browse → cart → order sequence "
            "before the order and the buyer's history.",
            serve=False,
        ),
    )
}


def feature_problems(checkpoint: str, paths: Iterable[str]) -> list[tuple[str, str]]:
    """``(path, reason)`` for every path that cannot be a model feature at ``checkpoint``:
    not in its context schema, not numeric, not point-in-time, or repeated."""
    if checkpoint not in CHECKPOINTS:
        return [(checkpoint, f"not a checkpoint (use {', '.join(CHECKPOINTS)})")]
    schema = context_schema(checkpoint)
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for path in paths:
        kind = schema.get(path)
        if path in seen:
            problems.append((path, "repeated"))
        elif path == MODEL_SCORE:
            problems.append((path, "a model's own output, not a feature"))
        elif path.startswith(("credit.", "customer.")):
            problems.append((path, "today's credit snapshot, not point-in-time"))
        elif kind is None:
            problems.append((path, f"not a field of the {checkpoint} checkpoint's context"))
        elif kind not in NUMERIC_TYPES:
            problems.append((path, f"of type {kind}: a feature must be int, double or bool"))
        elif blocked_users_entity(path) or path in NOT_POINT_IN_TIME:
            problems.append((path, "not point-in-time: it would leak later information"))
        seen.add(path)
    return problems


def spec_problems(spec: ModelSpec) -> list[tuple[str, str]]:
    """What is wrong with a model spec: its features, or event types outside its checkpoint."""
    problems = feature_problems(spec.checkpoint, spec.features)
    if spec.checkpoint in CHECKPOINTS:
        allowed = CHECKPOINTS[spec.checkpoint].event_types
        for t in spec.event_types:
            if t not in allowed:
                problems.append((t, f"not an event type of the {spec.checkpoint} checkpoint"))
    if not spec.features:
        problems.append((spec.name, "no features"))
    return problems
