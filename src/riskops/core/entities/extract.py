"""What an event touches: entity nodes, edges between them, and online-state updates.

Identifiers that are personal data (address, email, phone) are normalised and then hashed
with the deployment's HMAC key, so the graph never holds them raw. Payment instruments are
already tokens from the client and are hashed too, so a leaked graph cannot be joined back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from riskops.core.events.common import Address
from riskops.core.events.envelope import Event
from riskops.core.identity import (
    hash_identifier,
    ip_prefix,
    normalize_address,
    normalize_email,
    normalize_phone,
)
from riskops.core.state.model import StateUpdate

ENTITY_TYPES: tuple[str, ...] = (
    "user", "device", "ip", "ip24", "address", "phone", "email", "instrument",
    "merchant", "sku", "coupon", "campaign",
)
"""Every entity type of the graph. ``ip24`` is the IPv4 /24 (IPv6 /48) network of an ip."""

HASHED_TYPES = frozenset({"address", "phone", "email", "instrument"})

_VALUE_FIELDS: dict[str, str] = {
    "order.placed": "amount", "payment.succeeded": "amount", "payment.failed": "amount",
    "refund.requested": "amount", "refund.issued": "amount", "return.requested": "amount",
    "chargeback.received": "amount", "dispute.opened": "amount", "page.viewed": "dwell_ms",
    "review.posted": "rating", "coupon.claimed": "value", "coupon.redeemed": "discount_amount",
    "listing.created": "price", "listing.updated": "price", "checkout.started": "amount",
    "cart.item_added": "price", "cart.item_removed": "price",
}


@dataclass(frozen=True, slots=True)
class EntityRef:
    type: str
    id: str


@dataclass(frozen=True, slots=True)
class EdgeRef:
    src: EntityRef
    dst: EntityRef


@dataclass(slots=True)
class Extraction:
    nodes: set[EntityRef] = field(default_factory=set)
    edges: set[EdgeRef] = field(default_factory=set)
    updates: list[StateUpdate] = field(default_factory=list)


def metric_name(event_type: str) -> str:
    """``order.placed`` → ``order_placed``: the per-type counter of every subject entity."""
    return event_type.replace(".", "_")


def _address_id(address: Address, secret: bytes) -> str | None:
    parts = address.model_dump(exclude={"name", "phone"})
    try:
        return hash_identifier("address", normalize_address(parts), secret)
    except ValueError:  # nothing left after normalising (e.g. only punctuation)
        return None


def _safe_hash(kind: str, raw: str | None, secret: bytes, market: str) -> str | None:
    if not raw:
        return None
    try:
        if kind == "email":
            norm = normalize_email(raw)
        elif kind == "phone":
            norm = normalize_phone(raw, market)
        else:
            norm = raw.strip()
    except ValueError:
        return None
    return hash_identifier(kind, norm, secret)


def _payload_value(event: Event) -> float | None:
    name = _VALUE_FIELDS.get(event.type)
    if name is None:
        return None
    value = getattr(event.payload, name, None)
    return float(value) if isinstance(value, int | float) else None


def extract(event: Event, secret: bytes) -> Extraction:
    """Nodes, edges and state updates of one event. Pure and deterministic."""
    out = Extraction()
    payload: Any = event.payload
    at = event.occurred_at_us
    user = EntityRef("user", event.user_id) if event.user_id else None
    fp = event.device_fingerprint
    device = EntityRef("device", fp) if fp else None
    ip = EntityRef("ip", event.ip) if event.ip else None
    ip24 = EntityRef("ip24", ip_prefix(event.ip)) if event.ip else None

    linked: list[EntityRef] = []  # things the user is linked to by this event
    for ref in (device, ip, ip24):
        if ref:
            linked.append(ref)
    address: EntityRef | None = None
    addr_model: Address | None = getattr(payload, "shipping_address", None) or getattr(
        payload, "address", None
    )
    if isinstance(addr_model, Address):
        address_id = _address_id(addr_model, secret)
        address = EntityRef("address", address_id) if address_id else None
        if address:
            linked.append(address)
        phone_id = _safe_hash("phone", addr_model.phone, secret, event.market)
        if phone_id:
            linked.append(EntityRef("phone", phone_id))
    for kind in ("email", "phone"):
        if event.type == "user.registered":
            hashed = _safe_hash(kind, getattr(payload, kind, None), secret, event.market)
            if hashed:
                linked.append(EntityRef(kind, hashed))
    instrument_raw = getattr(payload, "payment_instrument", None)
    instrument = (
        EntityRef("instrument", hash_identifier("instrument", instrument_raw, secret))
        if instrument_raw
        else None
    )
    if instrument:
        linked.append(instrument)
    merchants = _merchants(payload)
    linked.extend(EntityRef("merchant", m) for m in merchants)
    coupon_code = getattr(payload, "coupon_code", None)
    campaign_id = getattr(payload, "campaign_id", None)
    coupons = [coupon_code] if coupon_code else list(getattr(payload, "coupon_codes", []) or [])
    linked.extend(EntityRef("coupon", c) for c in coupons)
    if campaign_id:
        linked.append(EntityRef("campaign", campaign_id))
    referrer = getattr(payload, "referrer_user_id", None)
    if referrer and user and referrer != user.id:
        out.edges.add(EdgeRef(EntityRef("user", referrer), user))
        out.nodes.add(EntityRef("user", referrer))
    if event.type.startswith("listing.") and merchants:
        sku = getattr(payload, "sku", None)
        if sku:
            out.edges.add(EdgeRef(EntityRef("merchant", merchants[0]), EntityRef("sku", sku)))
            out.nodes.add(EntityRef("sku", sku))

    if user:
        out.nodes.add(user)
        out.edges.update(EdgeRef(user, ref) for ref in linked)
    if device and ip:
        out.edges.add(EdgeRef(device, ip))
    out.nodes.update(linked)

    _updates(out, event, at, user, device, ip, ip24, address, instrument, merchants, coupons,
             campaign_id)
    return out


def _merchants(payload: Any) -> list[str]:
    items = getattr(payload, "items", None)
    found: list[str] = []
    if items:
        for item in items:
            if item.merchant_id not in found:
                found.append(item.merchant_id)
    direct = getattr(payload, "merchant_id", None)
    if direct and direct not in found:
        found.append(direct)
    return found


def _updates(
    out: Extraction,
    event: Event,
    at: int,
    user: EntityRef | None,
    device: EntityRef | None,
    ip: EntityRef | None,
    ip24: EntityRef | None,
    address: EntityRef | None,
    instrument: EntityRef | None,
    merchants: list[str],
    coupons: list[str],
    campaign_id: str | None,
) -> None:
    metric = metric_name(event.type)
    value = _payload_value(event)
    add = out.updates.append

    def both(ref: EntityRef) -> None:
        add(StateUpdate(ref.type, ref.id, "events", at))
        add(StateUpdate(ref.type, ref.id, metric, at, value))

    for subject in (user, device, ip, ip24):
        if subject:
            both(subject)
    if user:
        for ref, name in ((device, "devices"), (ip, "ips"), (ip24, "ip24s"),
                          (address, "addresses"), (instrument, "instruments")):
            if ref:
                add(StateUpdate("user", user.id, name, at, distinct=ref.id))
        for other in (device, ip, ip24, address, instrument):
            if other:
                add(StateUpdate(other.type, other.id, "users", at, distinct=user.id))
    if device and ip:
        add(StateUpdate("device", device.id, "ips", at, distinct=ip.id))
        add(StateUpdate("ip", ip.id, "devices", at, distinct=device.id))
    for ref in (address, instrument):
        if ref:
            add(StateUpdate(ref.type, ref.id, metric, at, value))
    for merchant in merchants:
        add(StateUpdate("merchant", merchant, metric, at, _merchant_value(event, merchant, value)))
        if user:
            add(StateUpdate("merchant", merchant, "buyers", at, distinct=user.id))
    for code in coupons:
        add(StateUpdate("coupon", code, metric, at, value))
        if user:
            add(StateUpdate("coupon", code, "users", at, distinct=user.id))
        if device:
            add(StateUpdate("coupon", code, "devices", at, distinct=device.id))
    if campaign_id:
        add(StateUpdate("campaign", campaign_id, metric, at, value))
        if user:
            add(StateUpdate("campaign", campaign_id, "users", at, distinct=user.id))
        if device:
            add(StateUpdate("campaign", campaign_id, "devices", at, distinct=device.id))


def _merchant_value(event: Event, merchant: str, value: float | None) -> float | None:
    items = getattr(event.payload, "items", None)
    if event.type == "order.placed" and items:
        return round(sum(i.price * i.qty for i in items if i.merchant_id == merchant), 2)
    return value
