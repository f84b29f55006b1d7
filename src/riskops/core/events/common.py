"""Shared field types of the catalogue: money, ids, addresses, line items."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_ID_RE = re.compile(r"^[^\x00-\x1f]{1,128}$")


def _check_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError("must be 1-128 characters with no control characters")
    return value


def _check_currency(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise ValueError("must be a 3-letter ISO 4217 code such as USD or IDR")
    return value.upper()


Id = Annotated[str, AfterValidator(_check_id)]
MAX_AMOUNT = 1e15
"""Largest accepted money amount or price (in the currency's major unit)."""
Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]
Currency = Annotated[str, AfterValidator(_check_currency)]

PaymentMethod = Literal[
    "card", "wallet", "bank_transfer", "cod", "pay_later", "gift_card", "crypto", "other"
]
Channel = Literal[
    "search",
    "ads",
    "content",
    "live",
    "social",
    "referral",
    "private_domain",
    "email",
    "direct",
    "affiliate",
    "other",
]


class Strict(BaseModel):
    """Base of every nested model: unknown fields are rejected inside nested objects (the
    payload itself keeps unknown fields in ``extensions``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Address(Strict):
    name: str | None = None
    line1: str = Field(min_length=1, max_length=300)
    line2: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=120)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    phone: str | None = Field(default=None, max_length=40)
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude, degrees.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude, degrees.")


class LineItem(Strict):
    sku: Id
    merchant_id: Id
    price: Amount
    qty: int = Field(ge=1, le=100_000)
    category: str | None = None
    title: str | None = None
