"""Calibrate to tolerance (pure numpy): the score below which events are approved
automatically, chosen so that on labelled history the loss rate stays within the market's
risk tolerance while approving as much GMV as possible.

Each event has a score (0-100, read as the chance in percent that it turns out bad), an amount
and a label (1: bad). A *cut* ``c`` approves the events scoring below it (``score < c``); the
rest are no longer approved automatically (the policy reviews them from the cut on). The
candidate cuts are every distinct score, and 100 (every event below 100 approved) when no
event scores 100. For each cut the *trade-off curve* holds:

* ``approved`` / ``approval_rate`` - the events approved, and their share of all events;
* ``approved_gmv`` / ``approved_gmv_share`` - their amounts, and the share of all GMV;
* ``bad_gmv_approved`` and ``loss_rate`` = bad GMV approved / GMV approved (None when nothing
  is approved: no rate exists);
* ``bad_gmv_caught`` = bad GMV not approved, and ``caught_share`` of all bad GMV (None when
  there is no bad GMV).

Without amounts (a checkpoint without money: logins, coupon claims) every event weighs 1, and
the loss rate is the bad rate among approved events; the same applies when every amount is 0.

The chosen cut approves the most GMV among the cuts whose loss rate is at most the tolerance
(ties: the lower loss, then the lower cut). When there is no labelled bad event every cut
meets the tolerance, and the highest is chosen. When no cut that approves anything meets it,
the lowest score is chosen - nothing is approved automatically - and the result says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

STATUSES = ("met", "no_bad", "unreachable", "empty")
"""``met``: a cut meets the tolerance; ``no_bad``: no labelled bad event to calibrate against;
``unreachable``: no cut approving anything meets it; ``empty``: no events."""
_EPS = 1e-12  # sums of amounts carry rounding; a rate equal to the tolerance meets it


class ToleranceInputError(ValueError):
    """Inputs the curve cannot be computed from; ``field`` names the argument."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CurvePoint:
    cut: float
    approved: int
    approval_rate: float
    approved_gmv: float
    approved_gmv_share: float
    bad_gmv_approved: float
    loss_rate: float | None
    bad_gmv_caught: float
    caught_share: float | None

    def meets(self, tolerance: float) -> bool:
        return self.loss_rate is not None and self.loss_rate <= tolerance + _EPS

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ToleranceResult:
    tolerance: float
    by: str
    """``gmv`` (loss rate by amount) or ``events`` (bad rate: every event weighs 1)."""
    events: int
    bad: int
    gmv: float
    bad_gmv: float
    curve: tuple[CurvePoint, ...]
    """Ascending cuts."""
    chosen: CurvePoint | None
    """None only without events."""
    threshold: float | None
    """The review threshold to write: the shortest number (at most 6 significant digits)
    between the score below the chosen cut (excluded) and the cut (included), so it approves
    exactly the same events of this history as the cut."""
    status: str
    note: str
    note_zh: str


def tolerance_curve(
    scores: Sequence[float] | npt.ArrayLike,
    labels: Sequence[int] | npt.ArrayLike,
    tolerance: float,
    amounts: Sequence[float] | npt.ArrayLike | None = None,
) -> ToleranceResult:
    """The trade-off curve over every candidate cut and the chosen cut (see the module)."""
    s, y, w, by = _inputs(scores, labels, amounts, tolerance)
    n = len(s)
    if n == 0:
        return ToleranceResult(tolerance, by, 0, 0, 0.0, 0.0, (), None, None, "empty",
                               "no events", "没有事件")  # fmt: skip
    order = np.argsort(s, kind="stable")
    s, y, w = s[order], y[order], w[order]
    cuts, first = np.unique(s, return_index=True)
    cuts_list = [float(c) for c in cuts]
    approved = [int(i) for i in first]
    if cuts_list[-1] < 100:
        cuts_list.append(100.0)
        approved.append(n)
    cum_w = np.concatenate(([0.0], np.cumsum(w)))
    cum_bad = np.concatenate(([0.0], np.cumsum(w * y)))
    gmv, bad_gmv = float(cum_w[-1]), float(cum_bad[-1])
    curve = tuple(
        _point(cut, k, n, float(cum_w[k]), float(cum_bad[k]), gmv, bad_gmv)
        for cut, k in zip(cuts_list, approved, strict=True)
    )
    bad = int(y.sum())
    index, status = _choose(curve, tolerance, bad)
    chosen = curve[index]
    low = curve[index - 1].cut if index > 0 else None
    threshold = tidy_cut(low, chosen.cut)
    note, note_zh = _notes(status, chosen, tolerance)
    return ToleranceResult(
        tolerance, by, n, bad, gmv, bad_gmv, curve, chosen, threshold, status, note, note_zh
    )


def tidy_cut(low: float | None, cut: float) -> float:
    """The number with the fewest significant digits (3 to 6) in ``(low, cut]``, rounded
    down from ``cut``; ``cut`` itself when none is (or ``low`` is None)."""
    if low is None or cut <= 0:
        return cut
    exact = Decimal(repr(cut))
    for digits in (3, 4, 5, 6):
        places = digits - 1 - math.floor(math.log10(cut))
        candidate = float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_FLOOR))
        if low < candidate <= cut:
            return candidate
    return cut


def band_thresholds(review: float, bands: Mapping[str, float]) -> dict[str, float]:
    """Challenge, review and deny thresholds from a review threshold, keeping the bands'
    ratios to review: challenge = review·challenge/review-band, deny = min(100, review·deny/
    review-band); to 6 significant digits, never crossing review."""
    challenge = float(f"{review * bands['challenge'] / bands['review']:.6g}")
    deny = float(f"{review * bands['deny'] / bands['review']:.6g}")
    return {
        "challenge": min(review, challenge),
        "review": review,
        "deny": max(review, min(100.0, deny)),
    }


def _inputs(
    scores: Sequence[float] | npt.ArrayLike,
    labels: Sequence[int] | npt.ArrayLike,
    amounts: Sequence[float] | npt.ArrayLike | None,
    tolerance: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], str]:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if not 0 < tolerance < 1:
        raise ToleranceInputError("tolerance", f"a rate between 0 and 1, not {tolerance!r}")
    if s.ndim != 1 or y.shape != s.shape:
        raise ToleranceInputError("labels", "one label per score")
    if not np.all(np.isfinite(s)) or np.any((s < 0) | (s > 100)):
        raise ToleranceInputError("scores", "numbers from 0 to 100")
    if not np.all((y == 0) | (y == 1)):
        raise ToleranceInputError("labels", "0 (good) or 1 (bad)")
    if amounts is None:
        return s, y, np.ones_like(s), "events"
    w = np.asarray(amounts, dtype=np.float64)
    if w.shape != s.shape:
        raise ToleranceInputError("amounts", "one amount per score")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ToleranceInputError("amounts", "finite numbers, 0 or more")
    if len(w) and float(w.sum()) == 0.0:
        return s, y, np.ones_like(s), "events"
    return s, y, w, "gmv"


def _point(
    cut: float, k: int, n: int, approved_gmv: float, bad_approved: float, gmv: float, bad: float
) -> CurvePoint:
    return CurvePoint(
        cut=cut,
        approved=k,
        approval_rate=k / n,
        approved_gmv=approved_gmv,
        approved_gmv_share=approved_gmv / gmv if gmv else 0.0,
        bad_gmv_approved=bad_approved,
        loss_rate=bad_approved / approved_gmv if approved_gmv > 0 else None,
        bad_gmv_caught=bad - bad_approved,
        caught_share=(bad - bad_approved) / bad if bad > 0 else None,
    )


def _choose(curve: Sequence[CurvePoint], tolerance: float, bad: int) -> tuple[int, str]:
    feasible = [i for i, p in enumerate(curve) if p.meets(tolerance)]
    if not feasible:  # nothing can be approved within the tolerance (or at all)
        return 0, "no_bad" if bad == 0 else "unreachable"
    best = min(
        feasible,
        key=lambda i: (-curve[i].approved_gmv, curve[i].loss_rate or 0.0, curve[i].cut),
    )
    return best, "met" if bad else "no_bad"


def _notes(status: str, chosen: CurvePoint, tolerance: float) -> tuple[str, str]:
    tol = f"{tolerance:.1%}"
    if status == "no_bad":
        return (
            "no labelled bad events: nothing to calibrate against",
            "没有被标记为坏的事件：无从校准",
        )
    if status == "unreachable":
        return (
            f"no cut keeps the loss rate within {tol}: the cut is the lowest score, so "
            "nothing is approved automatically",
            f"没有阈值能把损失率控制在 {tol} 以内：阈值取最低分，不自动批准任何事件",
        )
    loss = f"{chosen.loss_rate or 0.0:.2%}"
    share = f"{chosen.approved_gmv_share:.1%}"
    return (
        f"loss rate {loss} within {tol}, approving {share} of GMV",
        f"损失率 {loss}，在 {tol} 以内；自动批准 {share} 的交易额",
    )
