"""Turning simulated actions into catalogue events: envelopes with deterministic ids, times,
identities; events later than the day being written wait for their day; ground-truth labels
are collected beside them."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from riskops.simulator.config import MARKETS
from riskops.simulator.world import STREETS, World

DAY_US = 86_400_000_000
_IP_BASE = {
    "ID": "36.68",
    "TH": "49.228",
    "MY": "60.48",
    "SG": "101.127",
    "CN": "101.80",
    "DE": "84.128",
}


class Emitter:
    def __init__(self, world: World, start: datetime) -> None:
        self.world = world
        self.start_us = int(start.timestamp() * 1_000_000)
        self.day = 0
        self.current: list[tuple[int, int, dict[str, Any]]] = []
        self.later: dict[int, list[tuple[int, int, dict[str, Any]]]] = defaultdict(list)
        self.labels: list[dict[str, Any]] = []
        self._dropped: set[tuple[str, str]] = set()  # after the window: never happened
        self._seq = 0
        self._prefix = f"s{world.config.seed}g{world.config.generation}"

    # --- days -------------------------------------------------------------------------------
    def begin_day(self, day: int) -> None:
        self.day = day
        self.current = self.later.pop(day, [])

    def take_day(self) -> list[dict[str, Any]]:
        """The day's events in time order (ties in creation order)."""
        self.current.sort(key=lambda t: (t[0], t[1]))
        out = [e for _, _, e in self.current]
        self.current = []
        return out

    def day_start_us(self, day: int | None = None) -> int:
        return self.start_us + (self.day if day is None else day) * DAY_US

    # --- identities ---------------------------------------------------------------------------
    def new_id(self, kind: str) -> str:
        self._seq += 1
        return f"{self._prefix}-{kind}{self._seq}"

    def market_of(self, user: int) -> str:
        return self.world.markets[int(self.world.users.market[user])]

    @staticmethod
    def user_id(user: int) -> str:
        return f"u{user:07d}"

    @staticmethod
    def device_id(device: int) -> str:
        return f"dv{device:08d}"

    def home_ip(self, user: int) -> str:
        base = _IP_BASE[self.market_of(user)]
        return f"{base}.{(user // 250) % 250}.{int(self.world.users.ip_host[user])}"

    def address(
        self, user: int, *, house: int | None = None, street: str | None = None
    ) -> dict[str, Any]:
        u = self.world.users
        market = MARKETS[self.market_of(user)]
        return {
            "line1": f"{int(u.house[user]) if house is None else house} "
            f"{STREETS[int(u.street[user])] if street is None else street}",
            "city": market.city,
            "country": market.code,
            "phone": f"{market.phone_prefix}{user:07d}",
        }

    # --- events -------------------------------------------------------------------------------
    def emit(
        self,
        event_type: str,
        at_us: int,
        market: str,
        payload: dict[str, Any],
        *,
        user: str | None = None,
        device: dict[str, Any] | str | None = None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        self._seq += 1
        body: dict[str, Any] = {
            "event_id": f"{self._prefix}-e{self._seq}",
            "type": event_type,
            "occurred_at": _iso(at_us),
            "market": market,
            "payload": payload,
        }
        if user is not None:
            body["user_id"] = user
        if device is not None:
            body["device"] = {"fingerprint": device} if isinstance(device, str) else device
        if ip is not None:
            body["ip"] = ip
        day = (at_us - self.start_us) // DAY_US
        item = (at_us, self._seq, body)
        if day <= self.day:
            self.current.append(item)
        elif day < self.world.config.days:
            self.later[day].append(item)
        else:  # after the window: it has not happened yet, so nothing may label it
            self._dropped.add(("event", body["event_id"]))
            if event_type == "order.placed":
                self._dropped.add(("order", payload["order_id"]))
        return body

    def label(self, entity_type: str, entity_id: str, label: str, attack: str) -> None:
        if (entity_type, entity_id) in self._dropped:
            return
        self.labels.append(
            {
                "entity_type": entity_type,
                "entity_id": entity_id,
                "label": label,
                "attack": attack,
                "generation": self.world.config.generation,
            }
        )


def _iso(at_us: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=at_us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
