"""The time split of training rows (pure): train on the earlier rows, hold out the later ones,
never shuffling across time.

Rows sorted by time are cut into three consecutive parts: *train* (the earliest
``1 - valid_fraction`` of the rows), *calibration* (the first ``calibration_share`` of the
held-out rows) and *test* (the rest, the latest). A cut never falls inside a run of equal
timestamps: it moves back to the first row of that time, so every row of a later part is
strictly later than every row of an earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Split:
    calibration_start: int
    """Index of the first calibration row (= number of training rows)."""
    test_start: int
    """Index of the first test row."""
    rows: int


def time_split(ts: npt.ArrayLike, valid_fraction: float, calibration_share: float = 0.5) -> Split:
    """The cut of rows whose times ``ts`` never decrease. ValueError (naming the option) when
    a fraction is out of range, the times are not sorted, or a part would be empty."""
    t = np.asarray(ts)
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError("valid_fraction: must be between 0 and 1 (exclusive)")
    if not 0.0 < calibration_share < 1.0:
        raise ValueError("calibration_share: must be between 0 and 1 (exclusive)")
    if t.ndim != 1:
        raise ValueError("ts: must be one-dimensional")
    n = len(t)
    if n and np.any(np.diff(t) < 0):
        raise ValueError("ts: must be sorted in time")
    held = round(n * valid_fraction)
    cal_start = _tie_start(t, n - held)
    cal_rows = round((n - cal_start) * calibration_share)
    test_start = _tie_start(t, cal_start + cal_rows)
    if cal_start <= 0:
        raise ValueError("valid_fraction: no training rows left before the held-out ones")
    if test_start <= cal_start:
        raise ValueError("valid_fraction: too few distinct times for a calibration part")
    if test_start >= n:
        raise ValueError("valid_fraction: too few distinct times for a test part")
    return Split(cal_start, test_start, n)


def _tie_start(t: npt.NDArray[np.generic], index: int) -> int:
    """``index``, moved back to the first row with the same time."""
    if index <= 0 or index >= len(t):
        return max(0, min(index, len(t)))
    return int(np.searchsorted(t, t[index], side="left"))
