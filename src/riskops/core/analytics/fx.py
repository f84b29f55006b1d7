"""Reporting currency: analytics add up orders from several markets, so amounts are turned into
one currency (US dollars) with a table of rates. The defaults are round reference rates for
the catalogue's markets; a platform passes its own (``--fx FILE``: ``{"IDR": 15800, ...}``,
local units per US dollar)."""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_PER_USD: Mapping[str, float] = {
    "USD": 1.0,
    "EUR": 0.92,
    "GBP": 0.79,
    "CNY": 7.2,
    "IDR": 15_000.0,
    "THB": 35.0,
    "MYR": 4.5,
    "SGD": 1.35,
    "PHP": 56.0,
    "VND": 25_000.0,
    "JPY": 150.0,
    "KRW": 1_350.0,
    "INR": 83.0,
    "BRL": 5.0,
    "MXN": 17.0,
    "AUD": 1.5,
}


class FxError(ValueError):
    """A rate table that cannot be used; the message names the currency."""


def rates(overrides: Mapping[str, object] | None = None) -> dict[str, float]:
    """The default table with ``overrides`` applied; every rate must be a positive number."""
    table = dict(DEFAULT_PER_USD)
    for code, value in (overrides or {}).items():
        if not (isinstance(code, str) and len(code) == 3 and code.isalpha() and code.isupper()):
            raise FxError(f"{code!r}: not a 3-letter ISO 4217 code")
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise FxError(f"{code}: the rate must be a positive number of units per USD")
        table[code] = float(value)
    return table


MARKET_CURRENCY: Mapping[str, str] = {
    "ID": "IDR", "TH": "THB", "MY": "MYR", "SG": "SGD", "PH": "PHP", "VN": "VND",
    "CN": "CNY", "JP": "JPY", "KR": "KRW", "IN": "INR", "AU": "AUD", "US": "USD",
    "GB": "GBP", "DE": "EUR", "FR": "EUR", "ES": "EUR", "IT": "EUR", "NL": "EUR",
    "BR": "BRL", "MX": "MXN",
}  # fmt: skip
"""The currency of a market, for amounts an event gives without one (a cart line's price)."""
