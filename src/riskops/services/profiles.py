"""Entity profiles: "what do we know about this user / device / address" in one read."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from riskops.core.entities import ENTITY_TYPES
from riskops.core.entities.counters import with_derived
from riskops.core.events.envelope import from_us, iso, to_us
from riskops.core.identity import (
    hash_identifier,
    ip_prefix,
    normalize_address,
    normalize_email,
    normalize_ip,
    normalize_phone,
)
from riskops.core.state.model import WindowStats
from riskops.core.state.windows import STANDARD_WINDOWS, format_window, parse_window
from riskops.errors import NotFound, Problem, ValidationFailed
from riskops.services.clock import Clock
from riskops.stores.base import OnlineState, Store

_HASHED = re.compile(r"^(ad|em|ph|pi)_[0-9a-f]{32}$")
SHARED_WINDOWS = (86_400, 30 * 86_400, 90 * 86_400)
SHAREABLE = ("device", "address", "instrument", "phone", "email", "ip", "ip24")


def _iso(us: int | None) -> str | None:
    return iso(from_us(us)) if us is not None else None


def _stats(s: WindowStats) -> dict[str, Any]:
    """Only what the metric has: count always; sum/min/max for valued metrics; distinct for
    distinct-count metrics."""
    out: dict[str, Any] = {"count": s.count}
    if s.min is not None:
        out.update(sum=round(s.sum, 4), min=s.min, max=s.max)
    if s.distinct:
        out["distinct"] = s.distinct
    return out


class ProfileService:
    def __init__(self, store: Store, state: OnlineState, secret: bytes, clock: Clock) -> None:
        self._store = store
        self._state = state
        self._secret = secret
        self._clock = clock

    def resolve_id(self, entity_type: str, raw_id: str, market: str | None = None) -> str:
        """Map what a caller knows (a raw email, address, phone, IP) onto the graph's id.
        ``market`` is the country whose calling code a national phone number belongs to (at
        ingest, the event's market)."""
        if entity_type not in ENTITY_TYPES:
            raise ValidationFailed(
                "unknown entity type",
                [Problem("type", f"must be one of {', '.join(ENTITY_TYPES)}")],
            )
        raw_id = raw_id.strip()
        if not raw_id:
            raise ValidationFailed("empty id", [Problem("id", "must not be empty")])
        try:
            if entity_type in ("address", "email", "phone", "instrument"):
                if _HASHED.match(raw_id):
                    return raw_id
                if entity_type == "address":
                    norm = normalize_address(raw_id)
                elif entity_type == "email":
                    norm = normalize_email(raw_id)
                elif entity_type == "phone":
                    norm = normalize_phone(raw_id, market)
                else:
                    norm = raw_id
                return hash_identifier(entity_type, norm, self._secret)
            if entity_type == "ip":
                return normalize_ip(raw_id)
            if entity_type == "ip24":
                return raw_id if "/" in raw_id else ip_prefix(raw_id)
        except ValueError as exc:
            raise ValidationFailed("invalid id", [Problem("id", str(exc))]) from None
        return raw_id

    @staticmethod
    def parse_windows(text: str | None) -> list[int]:
        if not text:
            return list(STANDARD_WINDOWS)
        try:
            return [parse_window(part) for part in text.split(",") if part.strip()]
        except ValueError as exc:
            raise ValidationFailed("invalid windows", [Problem("windows", str(exc))]) from None

    def profile(
        self,
        entity_type: str,
        raw_id: str,
        *,
        windows: list[int] | None = None,
        as_of: datetime | None = None,
        link_limit: int = 50,
        market: str | None = None,
    ) -> dict[str, Any]:
        entity_id = self.resolve_id(entity_type, raw_id, market)
        windows = windows or list(STANDARD_WINDOWS)
        as_of_us = to_us(as_of or self._clock())
        with self._store.begin() as uow:
            node = uow.graph.node(entity_type, entity_id)
            if node is None:
                raise NotFound(f"no {entity_type} {raw_id!r} in the event log")
            links = uow.graph.links(entity_type, entity_id, limit=link_limit)
            lists = uow.lists.memberships(entity_type, entity_id, as_of_us)
            shared = (
                {
                    format_window(w): uow.graph.users_sharing(
                        entity_type, entity_id, since_us=as_of_us - w * 1_000_000
                    )
                    for w in SHARED_WINDOWS
                }
                if entity_type in SHAREABLE
                else None
            )
        stats = with_derived(self._state.windows(entity_type, entity_id, windows, as_of_us))
        counters: dict[str, dict[str, Any]] = {}
        for metric, per_window in sorted(stats.items()):
            last = max((s.last_seen_us or 0 for s in per_window.values()), default=0)
            counters[metric] = {
                "last_seen": _iso(last or None),
                "windows": {format_window(w): _stats(s) for w, s in sorted(per_window.items())},
            }
        out: dict[str, Any] = {
            "type": entity_type,
            "id": entity_id,
            "first_seen": _iso(node.first_seen_us),
            "last_seen": _iso(node.last_seen_us),
            "events": node.events,
            "as_of": _iso(as_of_us),
            "counters": counters,
            "links": [
                {
                    "type": link.type,
                    "id": link.id,
                    "direction": link.direction,
                    "first_seen": _iso(link.first_seen_us),
                    "last_seen": _iso(link.last_seen_us),
                    "count": link.count,
                }
                for link in links
            ],
            "lists": [
                {
                    "list": e.list_name,
                    "kind": e.kind,
                    "reason": e.reason,
                    "source": e.source,
                    "since": _iso(e.created_at_us),
                    "expires": _iso(e.expires_at_us),
                }
                for e in lists
            ],
        }
        if shared is not None:
            out["users_sharing"] = shared
        return out

    def neighbourhood(
        self,
        entity_type: str,
        raw_id: str,
        *,
        k: int = 2,
        per_node_limit: int = 50,
        max_nodes: int = 500,
        within: int | None = None,
    ) -> dict[str, Any]:
        if not 1 <= k <= 3:
            raise ValidationFailed("invalid k", [Problem("k", "must be 1, 2 or 3")])
        entity_id = self.resolve_id(entity_type, raw_id)
        since = to_us(self._clock()) - within * 1_000_000 if within else None
        with self._store.begin() as uow:
            if uow.graph.node(entity_type, entity_id) is None:
                raise NotFound(f"no {entity_type} {raw_id!r} in the event log")
            hops = uow.graph.k_hop(
                entity_type,
                entity_id,
                k=k,
                per_node_limit=per_node_limit,
                max_nodes=max_nodes,
                since_us=since,
            )
        return {
            "type": entity_type,
            "id": entity_id,
            "k": k,
            "truncated": len(hops) >= max_nodes,
            "nodes": [
                {
                    "type": h.type,
                    "id": h.id,
                    "depth": h.depth,
                    "via": {"type": h.via_type, "id": h.via_id},
                }
                for h in hops
            ],
        }
