"""What a rule at each checkpoint can see: its context schema (dotted field → type).

* ``event.*`` - the payload fields of the checkpoint's event types (scalars, lists of ids, the
  fields of nested objects one level down, and ``<list>_count`` for lists of objects), plus
  ``event.type``, ``event.market`` and ``event.hour`` (UTC hour of day);
* ``user.id``, ``device.fingerprint``, ``ip.address``, ``ip.prefix``;
* ``velocity.<entity>.<feature>_<window>`` - counts and sums from the online state, e.g.
  ``velocity.user.orders_1h``, ``velocity.device.order_amount_24h``;
* ``graph.<entity>.distinct_users_<window>`` - how many accounts used this device / ip /
  address / instrument within the window.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from riskops.core.entities.extract import CAMPAIGN_SCOPES
from riskops.core.events.catalogue import CATALOGUE
from riskops.core.state.windows import format_window


@dataclass(frozen=True, slots=True)
class Checkpoint:
    name: str
    event_types: tuple[str, ...]
    summary: str


CHECKPOINTS: dict[str, Checkpoint] = {
    c.name: c
    for c in (
        Checkpoint("login", ("login.succeeded",), "A login attempt, before the session starts."),
        Checkpoint("registration", ("user.registered",), "A new account, before it is created."),
        Checkpoint(
            "coupon_claim",
            ("coupon.claimed", "coupon.redeemed"),
            "A coupon claim before it is granted, or its redemption before it is applied.",
        ),
        Checkpoint("order", ("order.placed", "checkout.started"), "An order at checkout."),
        Checkpoint("payment_method", ("order.placed",), "The payment method (e.g. COD)."),
        Checkpoint("refund_request", ("refund.requested", "return.requested"), "A refund request."),
        Checkpoint("listing", ("listing.created", "listing.updated"), "A listing or price change."),
    )
}

WINDOWS: tuple[int, ...] = (
    60,
    300,
    900,
    3600,
    6 * 3600,
    86_400,
    7 * 86_400,
    30 * 86_400,
    90 * 86_400,
)
"""Windows of velocity features: 1m 5m 15m 1h 6h 24h 7d 30d 90d."""

VELOCITY: dict[str, tuple[str, str]] = {
    # feature: (state metric, statistic) - count / sum / distinct
    "events": ("events", "count"),
    "orders": ("order_placed", "count"),
    "order_amount": ("order_placed", "sum"),
    "checkouts": ("checkout_started", "count"),
    "payments_failed": ("payment_failed", "count"),
    "logins": ("login_succeeded", "count"),
    "failed_logins": ("login_failed", "count"),
    "registrations": ("user_registered", "count"),
    "coupon_claims": ("coupon_claimed", "count"),
    "coupon_redemptions": ("coupon_redeemed", "count"),
    "refunds": ("refund_requested", "count"),
    "refund_amount": ("refund_requested", "sum"),
    "returns": ("return_requested", "count"),
    "cod_refusals": ("order_cod_refused", "count"),
    "cancellations": ("order_cancelled", "count"),
    "chargebacks": ("chargeback_received", "count"),
    "address_changes": ("address_changed", "count"),
    "page_views": ("page_viewed", "count"),
    "sessions": ("session_started", "count"),
    "searches": ("search_performed", "count"),
    "cart_adds": ("cart_item_added", "count"),
    "cart_removals": ("cart_item_removed", "count"),
    "devices": ("devices", "distinct"),
    "ips": ("ips", "distinct"),
    "addresses": ("addresses", "distinct"),
    "instruments": ("instruments", "distinct"),
}
LAST: tuple[str, ...] = tuple(
    name for name, (_, stat) in VELOCITY.items() if stat == "count" and "amount" not in name
)
"""``last.<entity>.<feature>``: seconds since the entity's latest such event before this one
(within 90 days; null when there was none)."""
LAST_WINDOW_S = 90 * 86_400
BLOCKED_USERS_LIMIT = 1000
"""``graph.<entity>.blocked_users`` looks at this many of the entity's most recent accounts."""


def blocked_users_entity(path: str) -> str | None:
    """``graph.device.blocked_users`` → ``device``: accounts linked to the event's device (in
    the entity graph, before this event) that are on a block list now; None for other paths."""
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "graph" and parts[2] == "blocked_users":
        return parts[1] if parts[1] in SHARED_ENTITIES else None
    return None


CAMPAIGN_FEATURE_SCOPES: tuple[str, ...] = ("total", *CAMPAIGN_SCOPES)
"""``campaign.<scope>.<feature>_<window>``: the event's campaign (``campaign_id``) as a whole
(``total``), or its events from this user / device / address / phone / instrument."""
CAMPAIGN_FEATURES: tuple[str, ...] = tuple(
    name for name, (_, stat) in VELOCITY.items() if stat in ("count", "sum") and name != "events"
)
VELOCITY_ENTITIES: dict[str, str] = {
    # entity in the rule: which context field holds its id
    "user": "user.id",
    "device": "device.fingerprint",
    "ip": "ip.address",
    "ip24": "ip.prefix",
    "address": "",  # the shipping address, hashed (no context field)
    "instrument": "",  # the payment instrument, hashed
}
SHARED_ENTITIES: tuple[str, ...] = ("device", "ip", "address", "instrument")
IDENTITY: dict[str, str] = {
    "user.id": "string",
    "device.fingerprint": "string",
    "ip.address": "string",
    "ip.prefix": "string",
    "event.type": "string",
    "event.market": "string",
    "event.hour": "int",
    "event.time": "int",
    "device.lat": "double",
    "device.lon": "double",
    "device.emulator": "bool",
    "device.model": "string",
}


MODEL_SCORE = "model.score"
"""The checkpoint's champion model's probability that the event is bad, in percent (0-100)."""
CREDIT_SCORE = "credit.score"
CREDIT_TIER = "credit.tier"
VALUE_SEGMENT = "customer.value_segment"
"""The user's credit score (300-850) and tier from the latest credit snapshot (``new`` for a
user it does not know; None without a snapshot), and the customer's value segment there
(``high`` / ``mid`` / ``low`` / ``new``)."""
MODEL_CHECKPOINTS = frozenset(
    {"order", "payment_method", "coupon_claim", "login", "refund_request"}
)
"""The checkpoints with a model (``riskops.core.models.features.MODELS``; a test checks)."""


def window_suffix(window_s: int) -> str:
    return format_window(window_s)


def _scalar(annotation: Any) -> str | None:
    """The rule type of a payload field's annotation, or None if it is not a scalar."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _scalar(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = {_scalar(a) for a in get_args(annotation) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if origin is Literal:
        return "string" if all(isinstance(a, str) for a in get_args(annotation)) else None
    return {str: "string", int: "int", float: "double", bool: "bool"}.get(annotation)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    origin = get_origin(annotation)
    if origin is Annotated or origin in (Union, types.UnionType):
        found = [m for a in get_args(annotation) if (m := _model_of(a)) is not None]
        return found[0] if found else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _payload_fields(model: type[BaseModel], prefix: str, out: dict[str, str], depth: int) -> None:
    for name, info in model.model_fields.items():
        annotation = info.annotation
        path = f"{prefix}.{name}"
        kind = _scalar(annotation)
        if kind is not None:
            out.setdefault(path, kind)
            continue
        if get_origin(annotation) is list:
            (item,) = get_args(annotation)
            if _scalar(item) == "string":
                out.setdefault(path, "list<string>")
            elif _model_of(item) is not None:
                out.setdefault(f"{path}_count", "int")
            continue
        nested = _model_of(annotation)
        if nested is not None and depth == 0:
            _payload_fields(nested, path, out, depth + 1)


@lru_cache(maxsize=32)
def context_schema(checkpoint: str) -> dict[str, str]:
    """Every field a rule at ``checkpoint`` can use, with its type (KeyError: no such
    checkpoint)."""
    spec = CHECKPOINTS[checkpoint]
    out = dict(IDENTITY)
    out[CREDIT_SCORE] = "int"
    out[CREDIT_TIER] = "string"
    out[VALUE_SEGMENT] = "string"
    if checkpoint in MODEL_CHECKPOINTS:
        out[MODEL_SCORE] = "double"
    for event_type in spec.event_types:
        _payload_fields(CATALOGUE[event_type].payload, "event", out, 0)
    for entity in VELOCITY_ENTITIES:
        for feature, (_, stat) in VELOCITY.items():
            for w in WINDOWS:
                kind = "double" if stat == "sum" else "int"
                out[f"velocity.{entity}.{feature}_{window_suffix(w)}"] = kind
        for feature in LAST:
            out[f"last.{entity}.{feature}"] = "int"
    for entity in SHARED_ENTITIES:
        for w in WINDOWS:
            out[f"graph.{entity}.distinct_users_{window_suffix(w)}"] = "int"
        out[f"graph.{entity}.blocked_users"] = "int"
    for scope in CAMPAIGN_FEATURE_SCOPES:
        for feature in CAMPAIGN_FEATURES:
            kind = "double" if VELOCITY[feature][1] == "sum" else "int"
            for w in WINDOWS:
                out[f"campaign.{scope}.{feature}_{window_suffix(w)}"] = kind
    return out
