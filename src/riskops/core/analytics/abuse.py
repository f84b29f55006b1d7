"""Who operations must not reward: the label kinds that mark a user as an abuser."""

from __future__ import annotations

ABUSE_LABELS: frozenset[str] = frozenset(
    {
        "fraud",
        "brushing",
        "coupon_abuse",
        "refund_abuse",
        "chargeback",
        "cod_refusal",
        "scraping",
        "fake_discount",
        "counterfeit",
    }
)
"""Label kinds that make their user an abuser, left out of audiences and rewards by default.
Account takeover is not one: the account's owner is the victim, so only the attacker's orders
are left out, not the customer."""
