"""The typed, versioned event catalogue: the envelope, one payload model per event type,
parsing with field-level problems, and the JSON Schema export."""

from riskops.core.events.catalogue import CATALOGUE, EventType
from riskops.core.events.envelope import DeviceInfo, Event
from riskops.core.events.parse import ParseLimits, parse_event

__all__ = ["CATALOGUE", "DeviceInfo", "Event", "EventType", "ParseLimits", "parse_event"]
