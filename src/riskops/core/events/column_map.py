"""Column maps: turn rows of a foreign export (a shop's order CSV, a fraud-flag table) into
catalogue events. Pure: a row dict in, event dicts out (validation happens afterwards, in the
normal parser, so a mapped row gets the same field-level problems as an API call).

A map (YAML or JSON) is one emit or a list of emits under ``events``::

    timezone: Asia/Jakarta          # zone for timestamps that carry none (default UTC)
    date_format: "%d/%m/%Y %H:%M"   # strptime format (default: ISO 8601)
    events:
      - type: order.placed          # constant, or {column: kind}
        when: {column: status, equals: paid}     # optional filter
        fields:
          event_id: {template: "order-{order_no}"}
          occurred_at: created                   # a bare string is a column name
          market: {const: ID}
          user_id: buyer
          payload.order_id: order_no
          payload.items.0.sku: sku
          payload.items.0.price: {column: price, type: float}
          payload.items.0.qty: {column: qty, type: int}

Value specs: ``"col"`` | ``{column, type, format, map, default, required}`` | ``{const}`` |
``{template}``. Types: str, int, float, bool, datetime, ipv4_int (an IPv4 address written as
a number). Targets are dotted paths; a numeric part indexes a list.

An empty cell leaves its target unset, unless the column spec says ``required: true``: then
the whole row is rejected, naming the column, and none of its events is emitted. Without it a
row whose cell one event needs (e.g. a truncated last line) would be half-loaded: its other
events accepted, that one rejected.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_TYPES = {"str", "int", "float", "bool", "datetime", "ipv4_int"}


class MappingError(ValueError):
    """A map file that cannot be used; the message names the key."""


class RowError(ValueError):
    """One row that cannot be mapped; ``field`` is the target path or column."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Emit:
    type_spec: Any
    fields: dict[str, Any]
    when: dict[str, Any] | None = None


@dataclass(frozen=True)
class ColumnMap:
    emits: list[Emit]
    zone: tzinfo = UTC
    date_format: str | None = None
    columns: set[str] = field(default_factory=set)

    def columns_used(self) -> set[str]:
        return set(self.columns)


def _spec_columns(spec: Any) -> set[str]:
    if isinstance(spec, str):
        return {spec}
    if isinstance(spec, dict):
        if "column" in spec:
            return {str(spec["column"])}
        if "template" in spec:
            import string

            return {
                name for _, name, _, _ in string.Formatter().parse(str(spec["template"])) if name
            }
    return set()


def _check_spec(where: str, spec: Any) -> None:
    if isinstance(spec, str):
        return
    if not isinstance(spec, dict):
        raise MappingError(f"{where}: expected a column name or a mapping, got {spec!r}")
    kinds = [k for k in ("column", "const", "template") if k in spec]
    if len(kinds) != 1:
        raise MappingError(f"{where}: needs exactly one of column / const / template")
    if "required" in spec and ("column" not in spec or not isinstance(spec["required"], bool)):
        raise MappingError(f"{where}.required: only a column spec takes it, as true or false")
    kind = spec.get("type", "str")
    if kind not in _TYPES:
        raise MappingError(f"{where}.type: {kind!r} is not one of {sorted(_TYPES)}")


def load_column_map(raw: Any) -> ColumnMap:
    """Validate a parsed YAML/JSON map."""
    if not isinstance(raw, dict):
        raise MappingError("the column map must be a mapping")
    zone: tzinfo = UTC
    if raw.get("timezone"):
        try:
            zone = ZoneInfo(str(raw["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise MappingError(f"timezone: unknown zone {raw['timezone']!r}") from None
    items = raw.get("events")
    if items is None:
        items = [{k: v for k, v in raw.items() if k in ("type", "fields", "when")}]
    if not isinstance(items, list) or not items:
        raise MappingError("events: expected a non-empty list")
    emits: list[Emit] = []
    columns: set[str] = set()
    for i, item in enumerate(items):
        where = f"events.{i}"
        if not isinstance(item, dict) or "type" not in item or "fields" not in item:
            raise MappingError(f"{where}: needs 'type' and 'fields'")
        if not isinstance(item["fields"], dict):
            raise MappingError(f"{where}.fields: expected a mapping of target: spec")
        for target, spec in item["fields"].items():
            _check_spec(f"{where}.fields.{target}", spec)
            columns |= _spec_columns(spec)
        if not isinstance(item["type"], str):
            _check_spec(f"{where}.type", item["type"])
            columns |= _spec_columns(item["type"])
        when = item.get("when")
        if when is not None and (not isinstance(when, dict) or "column" not in when):
            raise MappingError(f"{where}.when: expected {{column, equals | in | not_empty}}")
        if when:
            columns.add(str(when["column"]))
        emits.append(Emit(item["type"], dict(item["fields"]), when))
    return ColumnMap(emits, zone, raw.get("date_format"), columns)


def _convert(value: Any, kind: str, fmt: str | None, cmap: ColumnMap, where: str) -> Any:
    if value is None or value == "":
        return None
    try:
        if kind == "str":
            return str(value)
        if kind == "int":
            number = float(value)
            if number != int(number):
                raise ValueError(f"{value!r} is not a whole number")
            return int(number)
        if kind == "float":
            return float(value)
        if kind == "bool":
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "y", "t"):
                return True
            if text in ("0", "false", "no", "n", "f"):
                return False
            raise ValueError(f"{value!r} is not a boolean")
        if kind == "ipv4_int":
            return str(ipaddress.IPv4Address(int(float(value))))
        if kind == "datetime":
            return _datetime(value, fmt or cmap.date_format, cmap.zone)
    except (ValueError, TypeError, OverflowError, ipaddress.AddressValueError) as exc:
        raise RowError(where, f"cannot read {value!r} as {kind}: {exc}") from None
    raise RowError(where, f"unknown type {kind}")


def _datetime(value: Any, fmt: str | None, zone: tzinfo) -> str:
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        moment = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _value(spec: Any, row: dict[str, Any], cmap: ColumnMap, where: str) -> Any:
    if isinstance(spec, str):
        spec = {"column": spec}
    if "const" in spec:
        return spec["const"]
    if "template" in spec:
        try:
            return str(spec["template"]).format(
                **{k: "" if v is None else v for k, v in row.items()}
            )
        except KeyError as exc:
            raise RowError(where, f"template names a missing column {exc}") from None
    column = str(spec["column"])
    if column not in row:
        raise RowError(column, "column is missing from the row")
    raw = row[column]
    mapping = spec.get("map")
    if mapping is not None and raw is not None:
        raw = mapping.get(str(raw), spec.get("default", raw))
    if (raw is None or raw == "") and "default" in spec:
        raw = spec["default"]
    kind = spec.get("type", "datetime" if where.endswith("occurred_at") else "str")
    value = _convert(raw, kind, spec.get("format"), cmap, where)
    if value is None and spec.get("required"):
        raise RowError(column, f"is empty, and the map requires it (for {where})")
    return value


def _assign(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = target
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt: Any = None if last else ([] if parts[i + 1].isdigit() else {})
        if isinstance(node, list):
            index = int(part)
            while len(node) <= index:
                node.append(None)
            if last:
                node[index] = value
            else:
                if node[index] is None:
                    node[index] = nxt
                node = node[index]
        else:
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, nxt)


def _matches(when: dict[str, Any] | None, row: dict[str, Any]) -> bool:
    if not when:
        return True
    value = row.get(str(when["column"]))
    text = "" if value is None else str(value)
    if "equals" in when:
        return text == str(when["equals"])
    if "in" in when:
        return text in {str(v) for v in when["in"]}
    if when.get("not_empty"):
        return text != ""
    return True


def map_row(cmap: ColumnMap, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The events one row yields (possibly none, when every ``when`` filters it out)."""
    out: list[dict[str, Any]] = []
    for emit in cmap.emits:
        if not _matches(emit.when, row):
            continue
        event: dict[str, Any] = {}
        event_type = (
            emit.type_spec
            if isinstance(emit.type_spec, str)
            else _value(emit.type_spec, row, cmap, "type")
        )
        event["type"] = event_type
        for target, spec in emit.fields.items():
            value = _value(spec, row, cmap, target)
            if value is not None:
                _assign(event, target, value)
        out.append(event)
    return out
