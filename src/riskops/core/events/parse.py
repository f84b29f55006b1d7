"""Turn one raw JSON object into a validated :class:`Event`, or into a list of problems that
each name the field (dotted path, e.g. ``payload.items.0.price``) and the reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from riskops.core.events.catalogue import CATALOGUE, VERSIONS, Payload
from riskops.core.events.envelope import DeviceInfo, EnvelopeIn, Event
from riskops.core.identity import device_fingerprint, fingerprint_quality
from riskops.errors import Problem

_SERVER_FIELDS = ("received_at", "extensions")


@dataclass(frozen=True, slots=True)
class ParseLimits:
    max_future_skew: timedelta = timedelta(minutes=5)
    max_age: timedelta = timedelta(days=10_950)


def _problems(error: ValidationError, prefix: str = "") -> list[Problem]:
    out: list[Problem] = []
    for item in error.errors(include_url=False):
        path = ".".join(str(p) for p in item["loc"])
        field = f"{prefix}{path}" if path else prefix.rstrip(".") or "body"
        reason = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "missing":
            reason = "is required"
        elif item["type"] == "extra_forbidden":
            reason = "is not a known field"
        elif item["type"] == "timezone_aware":
            reason = "must carry a time zone (e.g. 2026-11-27T10:00:00Z)"
        out.append(Problem(field, reason))
    return out


def _derive_device(device: DeviceInfo, secret: bytes) -> DeviceInfo:
    """Fill in where the fingerprint came from (the instance was validated for this event
    alone, so it is updated in place)."""
    if device.fingerprint:
        device.fingerprint_source = "client"
        return device
    attrs = device.model_dump(exclude_none=True)
    derived = device_fingerprint(attrs, secret)
    if derived is not None:
        device.fingerprint = derived
        device.fingerprint_source = "derived"
        device.fingerprint_quality = fingerprint_quality(attrs)
    return device


def parse_event(
    raw: object,
    *,
    received_at: datetime,
    secret: bytes,
    limits: ParseLimits | None = None,
) -> Event | list[Problem]:
    """Validate ``raw``; never raises for bad input. ``received_at`` is the server's time."""
    limits = limits or ParseLimits()
    if not isinstance(raw, dict):
        return [Problem("body", f"an event must be a JSON object, not {type(raw).__name__}")]
    data: dict[str, Any] = dict(raw)
    problems = [
        Problem(name, "is set by the server and must not be sent")
        for name in _SERVER_FIELDS
        if name in data
    ]
    for name in _SERVER_FIELDS:
        data.pop(name, None)
    try:
        env = EnvelopeIn.model_validate(data)
    except ValidationError as exc:
        return problems + _problems(exc)
    if problems:
        return problems

    event_type = CATALOGUE.get(env.type)
    if event_type is None:
        return [Problem("type", f"unknown event type {env.type!r}; see `riskops schema`")]
    if env.schema_version != event_type.version:
        versioned = VERSIONS.get((env.type, env.schema_version))
        if versioned is None:
            return [
                Problem(
                    "schema_version",
                    f"{env.type} has no version {env.schema_version} "
                    f"(current: {event_type.version})",
                )
            ]
        event_type = versioned

    occurred = env.occurred_at.astimezone(UTC)
    if occurred > received_at + limits.max_future_skew:
        ahead = (occurred - received_at).total_seconds()
        return [
            Problem(
                "occurred_at",
                f"is {ahead:.0f} s in the future (at most "
                f"{limits.max_future_skew.total_seconds():.0f} s of clock skew is accepted)",
            )
        ]
    if occurred < received_at - limits.max_age:
        return [Problem("occurred_at", f"is older than {limits.max_age.days} days")]

    try:
        validated = event_type.payload.model_validate(env.payload)
    except ValidationError as exc:
        return _problems(exc, "payload.")
    payload, extensions = _split_extensions(validated)
    device = _derive_device(env.device, secret) if env.device else None
    return Event(
        event_id=env.event_id,
        type=env.type,
        schema_version=event_type.version,
        occurred_at=occurred,
        received_at=received_at,
        market=env.market,
        user_id=env.user_id,
        device=device,
        ip=env.ip,
        payload=payload,
        extensions=extensions,
    )


def _split_extensions(payload: Payload) -> tuple[BaseModel, dict[str, Any]]:
    extra = payload.__pydantic_extra__ or {}
    if not extra:
        return payload, {}
    known = {name: getattr(payload, name) for name in type(payload).model_fields}
    clean = type(payload).model_construct(**known)
    object.__setattr__(clean, "__pydantic_extra__", {})
    return clean, dict(extra)
