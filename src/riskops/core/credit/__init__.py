"""User and merchant credit (pure): points scorecards that turn an account's facts into a
score, a tier, reason codes in English and Simplified Chinese, and what the tier allows - user
privileges (:mod:`riskops.core.credit.model`), or a merchant's traffic-exposure multiplier
(:mod:`riskops.core.credit.merchant`). See docs/credit.md; :mod:`riskops.services.credit`
counts the facts from the analytics tables."""

from riskops.core.credit.merchant import (
    DEFAULT_EXPOSURE,
    MERCHANT_SCORECARD,
    MERCHANT_TIERS,
    MerchantCredit,
    MerchantFacts,
    merchant_exposure,
    score_merchant,
)
from riskops.core.credit.model import (
    DEFAULT_PRIVILEGES,
    USER_SCORECARD,
    USER_TIERS,
    CreditInputError,
    Factor,
    Privileges,
    Reason,
    UserCredit,
    UserFacts,
    score_user,
    tier_rank,
    user_privileges,
)

__all__ = [
    "DEFAULT_EXPOSURE",
    "DEFAULT_PRIVILEGES",
    "MERCHANT_SCORECARD",
    "MERCHANT_TIERS",
    "USER_SCORECARD",
    "USER_TIERS",
    "CreditInputError",
    "Factor",
    "MerchantCredit",
    "MerchantFacts",
    "Privileges",
    "Reason",
    "UserCredit",
    "UserFacts",
    "merchant_exposure",
    "score_merchant",
    "score_user",
    "tier_rank",
    "user_privileges",
]
