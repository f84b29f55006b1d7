"""The event envelope: what every event carries, whatever its type."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, field_validator

from riskops.core.events.common import Id

_MARKET_RE = re.compile(r"^[A-Z]{2}$")


class DeviceInfo(BaseModel):
    """What the client knows of the device. ``fingerprint`` is the client's own stable id; when it
    is absent riskops derives one from the other attributes (see docs/fingerprint.md) and sets
    ``fingerprint_source`` to ``derived``. Unknown attributes are kept."""

    # not frozen: parsing fills in the derived fingerprint on the instance it just validated
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    fingerprint: str | None = Field(default=None, min_length=4, max_length=128)
    fingerprint_source: str | None = Field(
        default=None, description="client | derived (set by riskops)"
    )
    fingerprint_quality: str | None = Field(default=None, description="strong | medium | weak")
    user_agent: str | None = Field(default=None, max_length=1000)
    model: str | None = Field(default=None, max_length=200)
    os: str | None = Field(default=None, max_length=100)
    os_version: str | None = Field(default=None, max_length=50)
    screen: str | None = Field(default=None, max_length=50)
    timezone: str | None = Field(default=None, max_length=64)
    language: str | None = Field(default=None, max_length=35)
    canvas_hash: str | None = Field(default=None, max_length=128)
    webgl_hash: str | None = Field(default=None, max_length=128)
    emulator: bool | None = None
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude, degrees.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude, degrees.")


class EnvelopeIn(BaseModel):
    """The envelope as a client sends it (payload still untyped)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: Id = Field(description="Idempotency key: the same id is stored and applied once.")
    type: str = Field(description="Event type from the catalogue, e.g. order.placed.")
    schema_version: StrictInt = Field(default=1, ge=1, description="Version of the payload schema.")
    occurred_at: AwareDatetime = Field(description="When it happened; RFC 3339 with a zone.")
    market: str = Field(description="ISO 3166-1 alpha-2 country code of the market, e.g. ID.")
    user_id: Id | None = Field(default=None, description="The acting user, when known.")
    device: DeviceInfo | None = None
    ip: str | None = Field(default=None, description="Client IP address (v4 or v6).")
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _occurred_text(cls, value: object) -> object:
        # a datetime object arrives from Parquet files; numbers (epoch seconds?) are refused
        if not isinstance(value, str | datetime):
            raise ValueError("must be an RFC 3339 string with a zone, e.g. 2026-11-27T10:00:00Z")
        return value

    @field_validator("market", mode="before")
    @classmethod
    def _market(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().upper()
            if not _MARKET_RE.match(value):
                raise ValueError("must be a 2-letter ISO 3166-1 country code such as ID or DE")
        return value

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        return None if value is None else _canonical_ip(value)


class Event(BaseModel):
    """A validated event as stored in the log. Timestamps are UTC."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    type: str
    schema_version: int
    occurred_at: datetime
    received_at: datetime
    market: str
    user_id: str | None
    device: DeviceInfo | None
    ip: str | None
    payload: BaseModel
    extensions: dict[str, Any] = Field(default_factory=dict)

    @property
    def occurred_at_us(self) -> int:
        return to_us(self.occurred_at)

    @property
    def received_at_us(self) -> int:
        return to_us(self.received_at)

    @property
    def device_fingerprint(self) -> str | None:
        return self.device.fingerprint if self.device else None

    def to_record(self) -> dict[str, Any]:
        """The canonical JSON-ready form stored in the log (payload + extensions merged back
        under ``payload`` / ``extensions``)."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "schema_version": self.schema_version,
            "occurred_at": iso(self.occurred_at),
            "received_at": iso(self.received_at),
            "market": self.market,
            "user_id": self.user_id,
            "device": self.device.model_dump(mode="json", exclude_none=True)
            if self.device
            else None,
            "ip": self.ip,
            "payload": self.payload.model_dump(mode="json", exclude_none=True),
            "extensions": self.extensions,
        }


@lru_cache(maxsize=65_536)
def _canonical_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("is not a valid IPv4 or IPv6 address") from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch (exact; no float rounding)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    from datetime import timedelta

    return _EPOCH + timedelta(microseconds=value)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_us(text: str) -> int:
    """Microseconds since the epoch of a stored RFC 3339 timestamp (as written by :func:`iso`)."""
    return to_us(datetime.fromisoformat(text))
