"""What an event touches: entity nodes, edges between them, and online-state updates.

Extraction reads the event's canonical record (the dict stored in the log), so ingest, replay
and rebuilds run exactly the same code on exactly the same input.

Identifiers that are personal data (address, email, phone) are normalised and then hashed
with the deployment's HMAC key, so the graph never holds them raw. Payment instruments are
tokens from the client and are hashed too, so a leaked graph cannot be joined back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from riskops.core.events.envelope import parse_us
from riskops.core.identity import (
    hash_identifier,
    ip_prefix,
    normalize_address,
    normalize_email,
    normalize_phone,
)
from riskops.core.state.model import StateUpdate

ENTITY_TYPES: tuple[str, ...] = (
    "user",
    "device",
    "ip",
    "ip24",
    "address",
    "phone",
    "email",
    "instrument",
    "merchant",
    "sku",
    "coupon",
    "campaign",
)
"""Every entity type of the graph. ``ip24`` is the IPv4 /24 (IPv6 /48) network of an ip."""

_VALUE_FIELDS: dict[str, str] = {
    "order.placed": "amount",
    "payment.succeeded": "amount",
    "payment.failed": "amount",
    "refund.requested": "amount",
    "refund.issued": "amount",
    "return.requested": "amount",
    "chargeback.received": "amount",
    "dispute.opened": "amount",
    "page.viewed": "dwell_ms",
    "review.posted": "rating",
    "coupon.claimed": "value",
    "coupon.redeemed": "discount_amount",
    "listing.created": "price",
    "listing.updated": "price",
    "checkout.started": "amount",
    "cart.item_added": "price",
    "cart.item_removed": "price",
}
_ADDRESS_PARTS = ("line1", "line2", "city", "region", "postal_code", "country")

Node = tuple[str, str]
"""(entity type, entity id)"""
Edge = tuple[str, str, str, str]
"""(src type, src id, dst type, dst id)"""


@dataclass(slots=True)
class Extraction:
    nodes: set[Node] = field(default_factory=set)
    edges: set[Edge] = field(default_factory=set)
    updates: list[StateUpdate] = field(default_factory=list)


def metric_name(event_type: str) -> str:
    """``order.placed`` → ``order_placed``: the per-type counter of every subject entity."""
    return event_type.replace(".", "_")


@lru_cache(maxsize=65_536)
def _ip24(ip: str) -> str:
    return ip_prefix(ip)


def ip24_of(ip: str) -> str:
    """The graph id of an ip's network (IPv4 /24, IPv6 /48)."""
    return _ip24(ip)


def event_value(event_type: str, payload: Mapping[str, Any]) -> float | None:
    """The amount an event adds to its per-type sum (an order's amount, a page view's dwell)."""
    value_field = _VALUE_FIELDS.get(event_type)
    raw = payload.get(value_field) if value_field else None
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


def phone_id(raw: str, secret: bytes, market: str) -> str | None:
    """The graph id of a phone number (normalised for the market, then hashed)."""
    return _hashed("phone", raw, secret, market)


CAMPAIGN_SCOPES: tuple[str, ...] = ("user", "device", "address", "phone", "instrument")
"""What a campaign's events are also counted per (entity type ``campaign_<scope>``)."""


def campaign_key(campaign: str, scope_id: str) -> str:
    """The id of a campaign-scoped counter: the campaign and the entity, unit-separated."""
    return f"{campaign}\x1f{scope_id}"


def instrument_id(raw: str, secret: bytes) -> str | None:
    """The graph id of a payment instrument token."""
    return _hashed("instrument", raw, secret, "")


@lru_cache(maxsize=65_536)
def _hashed(kind: str, raw: str, secret: bytes, market: str) -> str | None:
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


@lru_cache(maxsize=65_536)
def _address_hash(parts: tuple[tuple[str, str], ...], secret: bytes) -> str | None:
    try:
        return hash_identifier("address", normalize_address(dict(parts)), secret)
    except ValueError:  # nothing left after normalising (e.g. only punctuation)
        return None


def address_id(address: Mapping[str, Any], secret: bytes) -> str | None:
    """The graph id of an address object (name and phone are not part of the address)."""
    parts = tuple((k, str(address[k])) for k in _ADDRESS_PARTS if address.get(k))
    return _address_hash(parts, secret) if parts else None


def extract(record: Mapping[str, Any], secret: bytes, *, updates: bool = True) -> Extraction:
    """Nodes, edges and (optionally) state updates of one event record. Pure, deterministic."""
    out = Extraction()
    payload: Mapping[str, Any] = record.get("payload") or {}
    event_type: str = record["type"]
    market: str = record["market"]
    user_id: str | None = record.get("user_id")
    device = record.get("device") or {}
    fp: str | None = device.get("fingerprint")
    ip: str | None = record.get("ip")
    ip24 = _ip24(ip) if ip else None

    linked: list[Node] = []
    if fp:
        linked.append(("device", fp))
    if ip:
        linked.append(("ip", ip))
    if ip24:
        linked.append(("ip24", ip24))
    addr_obj = payload.get("shipping_address") or payload.get("address")
    address: str | None = None
    phone_hash: str | None = None
    if addr_obj:
        address = address_id(addr_obj, secret)
        if address:
            linked.append(("address", address))
        phone_raw = addr_obj.get("phone")
        if phone_raw:
            phone = phone_hash = _hashed("phone", phone_raw, secret, market)
            if phone:
                linked.append(("phone", phone))
    if event_type == "user.registered":
        for kind in ("email", "phone"):
            raw = payload.get(kind)
            hashed = _hashed(kind, raw, secret, market) if raw else None
            if hashed:
                linked.append((kind, hashed))
    instrument_raw = payload.get("payment_instrument")
    instrument = instrument_id(instrument_raw, secret) if instrument_raw else None
    if instrument:
        linked.append(("instrument", instrument))
    merchants = _merchants(payload)
    linked.extend(("merchant", m) for m in merchants)
    coupon = payload.get("coupon_code")
    coupons: list[str] = [coupon] if coupon else list(payload.get("coupon_codes") or ())
    linked.extend(("coupon", c) for c in coupons)
    campaign: str | None = payload.get("campaign_id")
    if campaign:
        linked.append(("campaign", campaign))

    referrer = payload.get("referrer_user_id")
    if referrer and user_id and referrer != user_id:
        out.edges.add(("user", referrer, "user", user_id))
        out.nodes.add(("user", referrer))
    if event_type.startswith("listing.") and merchants and payload.get("sku"):
        out.edges.add(("merchant", merchants[0], "sku", payload["sku"]))
        out.nodes.add(("sku", payload["sku"]))
    if user_id:
        out.nodes.add(("user", user_id))
        out.edges.update(("user", user_id, t, i) for t, i in linked)
    if fp and ip:
        out.edges.add(("device", fp, "ip", ip))
    out.nodes.update(linked)
    if updates:
        _updates(
            out.updates,
            record,
            payload,
            user_id,
            fp,
            ip,
            ip24,
            address,
            instrument,
            merchants,
            coupons,
            campaign,
            phone_hash,
        )
    return out


def _merchants(payload: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for item in payload.get("items") or ():
        m = item.get("merchant_id")
        if m and m not in found:
            found.append(m)
    direct = payload.get("merchant_id")
    if direct and direct not in found:
        found.append(direct)
    return found


def _updates(
    add_to: list[StateUpdate],
    record: Mapping[str, Any],
    payload: Mapping[str, Any],
    user: str | None,
    device: str | None,
    ip: str | None,
    ip24: str | None,
    address: str | None,
    instrument: str | None,
    merchants: list[str],
    coupons: list[str],
    campaign: str | None,
    phone: str | None = None,
) -> None:
    at = parse_us(record["occurred_at"])
    event_type: str = record["type"]
    metric = metric_name(event_type)
    value = event_value(event_type, payload)
    add = add_to.append
    subjects = [
        (t, i) for t, i in (("user", user), ("device", device), ("ip", ip), ("ip24", ip24)) if i
    ]
    for t, i in subjects:  # their "events" total is derived on read (see counters.py)
        add(StateUpdate(t, i, metric, at, value))
    others = [
        (t, i)
        for t, i in (
            ("device", device),
            ("ip", ip),
            ("ip24", ip24),
            ("address", address),
            ("instrument", instrument),
        )
        if i
    ]
    if user:
        plural = {
            "device": "devices",
            "ip": "ips",
            "ip24": "ip24s",
            "address": "addresses",
            "instrument": "instruments",
        }
        for t, i in others:
            add(StateUpdate("user", user, plural[t], at, distinct=i))
            add(StateUpdate(t, i, "users", at, distinct=user))
    if device and ip:
        add(StateUpdate("device", device, "ips", at, distinct=ip))
        add(StateUpdate("ip", ip, "devices", at, distinct=device))
    for t, maybe in (("address", address), ("instrument", instrument)):
        if maybe:
            add(StateUpdate(t, maybe, metric, at, value))
    items = payload.get("items") or ()
    for merchant in merchants:
        m_value = value
        if event_type == "order.placed" and items:
            m_value = round(
                sum(
                    float(it["price"]) * int(it["qty"])
                    for it in items
                    if it.get("merchant_id") == merchant
                ),
                2,
            )
        add(StateUpdate("merchant", merchant, metric, at, m_value))
        if user:
            add(StateUpdate("merchant", merchant, "buyers", at, distinct=user))
    scoped = [("coupon", c) for c in coupons] + ([("campaign", campaign)] if campaign else [])
    for t, i in scoped:
        add(StateUpdate(t, i, metric, at, value))
        if user:
            add(StateUpdate(t, i, "users", at, distinct=user))
        if device:
            add(StateUpdate(t, i, "devices", at, distinct=device))
    if campaign:  # campaign-scoped counters: per campaign and user / device / address / ...
        scopes = (
            ("user", user),
            ("device", device),
            ("address", address),
            ("phone", phone),
            ("instrument", instrument),
        )
        for scope, scope_id in scopes:
            if scope_id:
                add(
                    StateUpdate(
                        f"campaign_{scope}", campaign_key(campaign, scope_id), metric, at, value
                    )
                )
