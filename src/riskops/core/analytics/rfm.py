"""RFM segments: recency, frequency and monetary quintile scores (1-5) and the named segments
built on them, with the benefit package each segment gets.

Scores are quintiles of the customer base, 5 the best: the most recent, the most frequent, the
biggest spenders. Tied customers get the same score (a customer's score is set by how many
customers are strictly worse), so a base where most customers bought once puts them all in F1
rather than splitting identical customers at random.

The segments follow the common R × F grid, with monetary splitting the bottom corner:

=====================  ===================================
segment                R score / F score
=====================  ===================================
champions              R 5, F 4-5
loyal_customers        R 3-4, F 4-5
potential_loyalists    R 4-5, F 2-3
new_customers          R 5, F 1
promising              R 4, F 1
need_attention         R 3, F 3
about_to_sleep         R 3, F 1-2
cant_lose_them         R 1-2, F 5
at_risk                R 1-2, F 3-4
hibernating            R 1-2, F 1-2 (M 3-5, or R 2)
lost                   R 1, F 1-2, M 1-2
=====================  ===================================
"""

from __future__ import annotations

from collections.abc import Mapping

SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal_customers",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "cant_lose_them",
    "at_risk",
    "hibernating",
    "lost",
)

SEGMENT_NAMES: Mapping[str, tuple[str, str]] = {
    "champions": ("Champions", "冠军客户"),
    "loyal_customers": ("Loyal customers", "忠诚客户"),
    "potential_loyalists": ("Potential loyalists", "潜力客户"),
    "new_customers": ("New customers", "新客户"),
    "promising": ("Promising", "有望客户"),
    "need_attention": ("Need attention", "需要关注"),
    "about_to_sleep": ("About to sleep", "即将沉睡"),
    "cant_lose_them": ("Can't lose them", "不能流失"),
    "at_risk": ("At risk", "流失风险"),
    "hibernating": ("Hibernating", "休眠客户"),
    "lost": ("Lost", "已流失"),
}
"""English and Chinese names, for tables people read."""

DEFAULT_BENEFITS: Mapping[str, str | None] = {
    "champions": "exclusive_benefits",
    "loyal_customers": "loyalty_points_boost",
    "potential_loyalists": "membership_offer",
    "new_customers": "new_user_coupon",
    "promising": "welcome_series",
    "need_attention": "limited_time_offer",
    "about_to_sleep": "reactivation_coupon",
    "cant_lose_them": "personal_win_back",
    "at_risk": "win_back_pack",
    "hibernating": "low_cost_reminder",
    "lost": None,
}
"""Segment → benefit package; a platform passes its own map (``None``: no package)."""


class RfmConfigError(ValueError):
    """A benefit map that names an unknown segment, or a bad package name."""


def segment(r: int, f: int, m: int) -> str:
    """The named segment of one customer's scores (each 1-5)."""
    for name, score in (("r", r), ("f", f), ("m", m)):
        if not 1 <= score <= 5:
            raise ValueError(f"{name}: a score is 1-5, not {score}")
    if r == 5 and f >= 4:
        return "champions"
    if r >= 3 and f >= 4:
        return "loyal_customers"
    if r >= 4 and f >= 2:
        return "potential_loyalists"
    if r == 5:
        return "new_customers"
    if r == 4:
        return "promising"
    if r == 3:
        return "need_attention" if f == 3 else "about_to_sleep"
    if f == 5:
        return "cant_lose_them"
    if f >= 3:
        return "at_risk"
    if r == 1 and m <= 2:
        return "lost"
    return "hibernating"


def benefits(overrides: Mapping[str, object] | None = None) -> dict[str, str | None]:
    """The default benefit map with ``overrides`` applied (a segment → a package name, or
    null for none)."""
    out: dict[str, str | None] = dict(DEFAULT_BENEFITS)
    for name, package in (overrides or {}).items():
        if name not in SEGMENT_NAMES:
            raise RfmConfigError(f"{name}: not a segment (one of {', '.join(SEGMENTS)})")
        if package is not None and (not isinstance(package, str) or not package.strip()):
            raise RfmConfigError(f"{name}: the package must be a name, or null for none")
        out[name] = package.strip() if isinstance(package, str) else None
    return out


def segment_table() -> list[tuple[int, int, int, str]]:
    """Every (r, f, m) with its segment: 125 rows, for a SQL join."""
    return [
        (r, f, m, segment(r, f, m)) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)
    ]
