"""What analyses are given: the column roles of an order export, the load report, and the
error every bad input raises (naming the field)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskops.errors import Problem, ValidationFailed


class AnalyticsInputError(ValidationFailed, ValueError):
    """Input an analysis cannot use; ``field`` names the column, option or file. A 422 with
    the problem in the API, a message and exit code 2 in the CLI."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__("invalid input", [Problem(field, reason)])
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OrderColumns:
    """Which columns of an order export hold what. ``amount`` is the line or order total;
    without it, ``quantity`` × ``unit_price``. Lines of one ``order_id`` are summed into one
    order (one row per order when there is no ``order_id``). Cancellations and returns - a
    negative quantity or amount, or an order id starting with ``cancel_prefix`` - are counted
    apart, never as purchases."""

    customer_id: str
    ordered_at: str
    amount: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    order_id: str | None = None
    currency: str | None = None
    default_currency: str = "USD"
    market: str | None = None
    channel: str | None = None
    cancel_prefix: str | None = "C"
    date_format: str | None = None

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> OrderColumns:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(spec) - known)
        if unknown:
            raise AnalyticsInputError(unknown[0], f"not a column role (use {', '.join(known)})")
        for role in ("customer_id", "ordered_at"):
            if not spec.get(role):
                raise AnalyticsInputError(role, "required: the column that holds it")
        values: dict[str, Any] = {k: (None if v in ("", None) else str(v)) for k, v in spec.items()}
        out = cls(**values)
        if out.amount is None and (out.quantity is None or out.unit_price is None):
            raise AnalyticsInputError("amount", "give amount, or both quantity and unit_price")
        return out


@dataclass
class LoadReport:
    source: str
    rows: int = 0
    orders: int = 0
    customers: int = 0
    excluded_users: int = 0
    set_aside: dict[str, int] = field(default_factory=dict)
    """Rows not counted as purchases, by reason (cancellation, no customer, bad amount...)."""
    rejected_path: Path | None = None
    unknown_currencies: list[str] = field(default_factory=list)
