"""The statistics of a recovery campaign with a random holdout (pure: standard library only).

- :func:`in_holdout`: the deterministic random split - a keyed hash (HMAC-SHA256 with a salt)
  of (campaign id, user id) mapped to [0, 1); the user is held out when it falls below the
  share. Re-running a campaign gives the same split; another campaign id gives another one.
- :func:`wilson_interval`: the Wilson score interval of one proportion.
- :func:`newcombe_interval`: Newcombe's hybrid score interval for a difference of two
  proportions (method 10 of Newcombe 1998, "Interval estimation for the difference between
  independent proportions", Statistics in Medicine 17:873-890), built from the two Wilson
  intervals. It stays inside [-1, 1], is defined for zero counts and needs no continuity
  correction.
- :func:`two_proportion_z_test`: the pooled two-proportion z-test, two-sided p-value.
- :func:`uplift`: all of it for treated vs holdout, with the relative uplift.

Undefined figures are ``None``, never NaN: a group with no carts has no rate (the result
says "too few carts"), the relative uplift is ``None`` when the holdout rate is 0."""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from statistics import NormalDist

SMALL_EXPECTED = 5.0
"""Below this many expected orders (or non-orders) in a group the z-test's normal
approximation is rough; the result's ``note`` says so."""


class UpliftInputError(ValueError):
    """Counts or options the statistics cannot use; ``field`` names the argument."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def in_holdout(campaign_id: str, user_id: str, share: float, salt: str = "") -> bool:
    """Whether ``user_id`` is in the holdout of ``campaign_id``: HMAC-SHA256 keyed by ``salt``
    over ``campaign_id``, a NUL byte and ``user_id``; the first 8 bytes as a fraction of 2**64
    below ``share`` (0 holds nobody out, 1 everybody)."""
    if not 0.0 <= share <= 1.0:
        raise UpliftInputError("holdout_share", f"must be between 0 and 1, got {share}")
    message = f"{campaign_id}\x00{user_id}".encode()
    digest = hmac.new(salt.encode(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < share


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise UpliftInputError("confidence", f"must be strictly between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _check(successes: int, n: int, field: str) -> None:
    if n < 0 or successes < 0:
        raise UpliftInputError(field, "counts cannot be negative")
    if successes > n:
        raise UpliftInputError(field, f"{successes} successes out of {n} trials")


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes / n``; ``None`` when ``n`` is 0."""
    _check(successes, n, "successes")
    z = _z(confidence)
    if n == 0:
        return None
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def newcombe_interval(
    x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Newcombe's hybrid score interval (method 10) for ``x1/n1 - x2/n2``: with (l1, u1) and
    (l2, u2) the Wilson intervals, ``d - sqrt((p1-l1)**2 + (u2-p2)**2)`` to
    ``d + sqrt((u1-p1)**2 + (p2-l2)**2)``. ``None`` when either group is empty."""
    w1 = wilson_interval(x1, n1, confidence)
    w2 = wilson_interval(x2, n2, confidence)
    if w1 is None or w2 is None:
        return None
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    low = d - math.sqrt((p1 - w1[0]) ** 2 + (w2[1] - p2) ** 2)
    high = d + math.sqrt((w1[1] - p1) ** 2 + (p2 - w2[0]) ** 2)
    return max(-1.0, low), min(1.0, high)


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float] | None:
    """The pooled z statistic of ``x1/n1 - x2/n2`` and its two-sided p-value; ``None`` when
    either group is empty. When the pooled rate is 0 or 1 (no orders at all, or only orders)
    the two rates are equal and the result is ``(0.0, 1.0)``, as Fisher's exact test gives."""
    _check(x1, n1, "x1")
    _check(x2, n2, "x2")
    if n1 == 0 or n2 == 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0.0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return z, math.erfc(abs(z) / math.sqrt(2.0))


@dataclass(frozen=True, slots=True)
class UpliftResult:
    """Treated vs holdout. Rates are shares in [0, 1]; ``absolute`` is the difference of rates
    (treated minus holdout) with its Newcombe interval ``ci_low``..``ci_high`` at
    ``confidence``; ``relative`` is ``absolute / holdout_rate``. ``None`` where undefined, and
    ``note`` says why (or warns that the z-test is rough on small groups)."""

    treated_carts: int
    treated_recovered: int
    holdout_carts: int
    holdout_recovered: int
    treated_rate: float | None
    holdout_rate: float | None
    absolute: float | None
    ci_low: float | None
    ci_high: float | None
    relative: float | None
    z: float | None
    p_value: float | None
    confidence: float
    note: str | None


def uplift(
    treated_recovered: int,
    treated_carts: int,
    holdout_recovered: int,
    holdout_carts: int,
    confidence: float = 0.95,
) -> UpliftResult:
    """Recovery rate of the treated carts against the holdout's: absolute uplift with
    Newcombe's hybrid score interval, relative uplift and the two-proportion z-test."""
    _check(treated_recovered, treated_carts, "treated_recovered")
    _check(holdout_recovered, holdout_carts, "holdout_recovered")
    _z(confidence)
    rate_t = treated_recovered / treated_carts if treated_carts else None
    rate_h = holdout_recovered / holdout_carts if holdout_carts else None
    interval = newcombe_interval(
        treated_recovered, treated_carts, holdout_recovered, holdout_carts, confidence
    )
    test = two_proportion_z_test(treated_recovered, treated_carts, holdout_recovered, holdout_carts)
    absolute = None if rate_t is None or rate_h is None else rate_t - rate_h
    relative = None if absolute is None or not rate_h else absolute / rate_h
    note = _note(treated_recovered, treated_carts, holdout_recovered, holdout_carts)
    return UpliftResult(
        treated_carts=treated_carts,
        treated_recovered=treated_recovered,
        holdout_carts=holdout_carts,
        holdout_recovered=holdout_recovered,
        treated_rate=rate_t,
        holdout_rate=rate_h,
        absolute=absolute,
        ci_low=None if interval is None else interval[0],
        ci_high=None if interval is None else interval[1],
        relative=relative,
        z=None if test is None else test[0],
        p_value=None if test is None else test[1],
        confidence=confidence,
        note=note,
    )


def _note(x1: int, n1: int, x2: int, n2: int) -> str | None:
    empty = [name for name, n in (("treated", n1), ("holdout", n2)) if n == 0]
    if empty:
        return f"too few carts: the {' and the '.join(empty)} group is empty"
    if x2 == 0:
        return "relative uplift undefined: no holdout cart was recovered"
    pooled = (x1 + x2) / (n1 + n2)
    smallest = min(n1, n2) * min(pooled, 1 - pooled)
    if smallest < SMALL_EXPECTED:
        return (
            f"few carts: under {SMALL_EXPECTED:g} expected recoveries or non-recoveries in a "
            "group, the z-test p-value is a rough approximation"
        )
    return None
