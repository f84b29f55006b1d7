"""The CPU half of ingest, free of any store: validate, canonicalise, extract. Module-level
and picklable so bulk loads can run it in worker processes while the parent writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

from riskops.core.entities import Extraction, extract
from riskops.core.events import ParseLimits, parse_event
from riskops.errors import Problem
from riskops.stores.base import NewEvent

Status = Literal["accepted", "duplicate", "rejected"]


@dataclass(slots=True)
class ItemResult:
    index: int
    status: Status
    event_id: str | None = None
    seq: int | None = None
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.event_id is not None:
            out["event_id"] = self.event_id
        if self.seq is not None:
            out["seq"] = self.seq
        if self.problems:
            out["problems"] = [p.as_dict() for p in self.problems]
        return out


@dataclass(slots=True)
class Prepared:
    """A validated event with everything the write needs, computed outside the transaction."""

    index: int
    row: NewEvent
    extraction: Extraction | None

    @property
    def event_id(self) -> str:
        return self.row.event_id


@dataclass(frozen=True, slots=True)
class RawJson:
    """One undecoded JSONL line, so that decoding happens in a worker process too."""

    data: bytes
    complete: bool  # False for a last line without its newline


def decode_line(raw: RawJson) -> object | Problem:
    try:
        decoded: object = orjson.loads(raw.data)
        return decoded
    except orjson.JSONDecodeError as exc:
        try:
            raw.data.decode("utf-8")
        except UnicodeDecodeError as bad:
            return Problem("line", f"invalid UTF-8 at byte {bad.start}")
        if not raw.complete:
            return Problem("line", "truncated last line (no newline, incomplete JSON)")
        return Problem("line", f"invalid JSON: {exc.msg} at column {exc.colno}")


@dataclass(frozen=True, slots=True)
class PrepareConfig:
    secret: bytes
    limits: ParseLimits


def prepare_events(
    raws: list[object], config: PrepareConfig, received: datetime, with_extraction: bool
) -> tuple[list[Prepared], list[ItemResult]]:
    good: list[Prepared] = []
    bad: list[ItemResult] = []
    for index, raw in enumerate(raws):
        if isinstance(raw, RawJson):
            decoded = decode_line(raw)
            if isinstance(decoded, Problem):
                bad.append(ItemResult(index, "rejected", None, problems=[decoded]))
                continue
            raw = decoded
        parsed = parse_event(raw, received_at=received, secret=config.secret, limits=config.limits)
        if isinstance(parsed, list):
            event_id = raw.get("event_id") if isinstance(raw, dict) else None
            bad.append(
                ItemResult(
                    index,
                    "rejected",
                    event_id if isinstance(event_id, str) else None,
                    problems=parsed,
                )
            )
            continue
        record = parsed.to_record()
        row = NewEvent(
            event_id=parsed.event_id,
            type=parsed.type,
            schema_version=parsed.schema_version,
            occurred_at_us=parsed.occurred_at_us,
            received_at_us=parsed.received_at_us,
            market=parsed.market,
            user_id=parsed.user_id,
            device_fp=parsed.device_fingerprint,
            ip=parsed.ip,
            body=orjson.dumps(record).decode(),
        )
        extraction = extract(record, config.secret) if with_extraction else None
        good.append(Prepared(index, row, extraction))
    return good, bad


def prepare_chunk(
    args: tuple[list[object], PrepareConfig, datetime, bool],
) -> tuple[list[Prepared], list[ItemResult]]:
    """Worker-process entry point for :func:`prepare_events`."""
    raws, config, received, with_extraction = args
    return prepare_events(raws, config, received, with_extraction)
