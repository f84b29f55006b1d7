"""The library functions of the rule language that are more than one operator: durations,
great-circle distance and the absence pattern. Shared by the closures and the type checker
(the SQL of each is in :mod:`riskops.core.rules.sql`)."""

from __future__ import annotations

import math
import re

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG)."""

MAX_DURATION_S = 315_576_000_000
"""CEL's duration range: 10,000 years."""
_DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str) -> int:
    """``"1h30m"`` → 5400 seconds: days, hours, minutes and seconds in that order, each
    optional, at least one (ValueError otherwise)."""
    match = _DURATION_RE.fullmatch(text) if isinstance(text, str) else None
    if not text or match is None or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r}: e.g. '30s', '10m', '1h30m', '7d'")
    d, h, m, s = (int(g) if g else 0 for g in match.groups())
    seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if seconds > MAX_DURATION_S:
        raise ValueError(f"invalid duration {text!r}: at most 10,000 years, as in CEL")
    return seconds


def geo_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (haversine) between two points in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


def not_followed_by(a_ago: int | None, b_ago: int | None, within_s: int) -> bool:
    """The absence pattern "A not followed by B within N", for the latest A: ``a_ago`` and
    ``b_ago`` are the seconds since the latest A and the latest B (None: none). True when there
    was an A, at least ``within_s`` ago, and no B since it."""
    if a_ago is None:
        return False
    return a_ago >= within_s and (b_ago is None or b_ago > a_ago)
