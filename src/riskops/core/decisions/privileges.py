"""What a user's credit tier changes in a decision, after the rules and the risk policy (pure).

A user's standing - credit score, tier and the tier's privileges - comes from the latest
credit snapshot (``riskops credit refresh``). A user the snapshot does not know (an account
newer than the snapshot) has the ``new`` tier's privileges. With no snapshot at all, nothing
here applies.

========================  ==========================================================
checkpoint                what the tier does
========================  ==========================================================
``refund_request``        an allowed refund of a tier with ``express_refund`` gets
                          ``instant_refund`` (pay out before the parcel is back)
``order``                 an allowed order up to ``password_free_limit_usd`` gets
                          ``password_free``; an order above ``new_user_cap_usd`` is
                          challenged (at least) with ``require_otp``
``payment_method``        ``pay_later`` without the tier's ``pay_later`` privilege is
                          allowed with ``require_online_payment`` instead (at least)
========================  ==========================================================

Privileges never lift a review or a deny: they only widen what an allowed user may do, or add
a limit. One exception, value × risk: a **high-value** customer (top 20 % by customer value in
the snapshot) whom the *score* alone would deny - no rule said deny - is reviewed with limits
instead (:data:`SERVED_WITH_LIMITS`): losing that customer to a false decline costs more than
the extra look. A rule's deny (a block list, a hard rule) stands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from riskops.core.credit.model import DEFAULT_PRIVILEGES, Privileges
from riskops.core.decisions.ruleset import OUTCOMES

UNKNOWN_TIER = "new"
"""The tier of a user the credit snapshot does not know yet."""


@dataclass(frozen=True, slots=True)
class Standing:
    score: int | None
    tier: str
    privileges: Privileges
    value_segment: str = "new"
    """``high`` / ``mid`` / ``low`` by customer value (lifetime value, or spend to date), or
    ``new`` without a purchase."""


def unknown_standing() -> Standing:
    return Standing(None, UNKNOWN_TIER, DEFAULT_PRIVILEGES[UNKNOWN_TIER])


SERVED_WITH_LIMITS = {
    "order": ["hold_for_review", "require_otp"],
    "payment_method": ["require_online_payment"],
    "refund_request": ["hold_for_review"],
    "coupon_claim": ["cap_coupon"],
    "login": ["require_otp"],
}
"""What a high-value customer gets instead of a deny from the score alone, per checkpoint."""


@dataclass(frozen=True, slots=True)
class Granted:
    outcome: str
    actions: list[str]
    notes: list[str]


def _at_least(outcome: str, floor: str) -> str:
    return max(outcome, floor, key=OUTCOMES.index)


def apply_privileges(
    checkpoint: str,
    outcome: str,
    actions: list[str],
    standing: Standing,
    amount_usd: float | None,
    payment_method: object,
    rules_outcome: str | None = None,
) -> Granted:
    """The outcome and actions once ``standing``'s privileges are applied; ``notes`` say
    what changed and why (English). ``rules_outcome``: the rules' own outcome, before the
    score's thresholds (a rule's deny is never softened)."""
    p = standing.privileges
    out = list(actions)
    notes: list[str] = []

    def add(action: str) -> None:
        if action not in out:
            out.append(action)

    if (
        standing.value_segment == "high"
        and outcome == "deny"
        and rules_outcome is not None
        and rules_outcome != "deny"
        and checkpoint in SERVED_WITH_LIMITS
    ):
        outcome = "review"
        out = [a for a in out if a != "block"]
        for action in SERVED_WITH_LIMITS[checkpoint]:
            add(action)
        notes.append("high-value customer: served with limits, not denied on the score")

    if checkpoint == "refund_request" and outcome == "allow" and p.express_refund:
        add("instant_refund")
        notes.append(f"express refund: tier {standing.tier}")
    elif checkpoint == "order" and amount_usd is not None:
        cap = p.new_user_cap_usd
        if cap is not None and amount_usd > cap:
            outcome = _at_least(outcome, "challenge")
            add("require_otp")
            if math.isinf(amount_usd):
                notes.append(f"order in a currency without a rate: the {standing.tier} cap "
                             f"of ${cap:,.0f} cannot be checked")  # fmt: skip
            else:
                notes.append(
                    f"order of ${amount_usd:,.2f} above the {standing.tier} cap of ${cap:,.0f}"
                )
        elif outcome == "allow" and 0 < amount_usd <= p.password_free_limit_usd:
            add("password_free")
            notes.append(
                f"password-free up to ${p.password_free_limit_usd:,.0f}: tier {standing.tier}"
            )
    elif (
        checkpoint == "payment_method"
        and payment_method == "pay_later"
        and not p.pay_later
        and outcome in ("allow", "challenge")
    ):
        add("require_online_payment")
        notes.append(f"pay later is not open to tier {standing.tier}")
    return Granted(outcome, out, notes)
