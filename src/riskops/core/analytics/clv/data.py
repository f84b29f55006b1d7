"""Validation of the (frequency, recency, T) inputs of the purchase models and of the spend
inputs of the Gamma-Gamma model, shared by fits and predictions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from riskops.core.analytics.clv._scipy import FloatArray
from riskops.core.analytics.clv.errors import ClvInputError


def as_float_array(values: npt.ArrayLike, field: str) -> FloatArray:
    """A 1-d float array of finite numbers (a scalar becomes one element)."""
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise ClvInputError(field, f"not numbers ({exc})") from None
    if arr.ndim != 1:
        raise ClvInputError(field, f"must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise ClvInputError(field, f"not finite ({arr[i]}) at position {i}")
    return arr


def wsum(values: FloatArray, weight: FloatArray) -> float:
    """Σ values·weight without BLAS (a BLAS dot between other array work waits for its
    threads to wake up, which costs more than the product itself)."""
    return float(np.multiply(values, weight).sum())


def _first(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.argmax(mask))


def as_rft(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validated, equally long (frequency, recency, T): frequency a whole number >= 0,
    0 <= recency <= T, recency > 0 exactly when frequency > 0."""
    x = as_float_array(frequency, "frequency")
    t_x = as_float_array(recency, "recency")
    t = as_float_array(T, "T")
    x, t_x, t = np.broadcast_arrays(x, t_x, t) if _broadcastable(x, t_x, t) else (x, t_x, t)
    if not (len(x) == len(t_x) == len(t)):
        raise ClvInputError(
            "recency", f"lengths differ: frequency {len(x)}, recency {len(t_x)}, T {len(t)}"
        )
    if (bad := (x < 0) | (x != np.floor(x))).any():
        i = _first(bad)
        raise ClvInputError("frequency", f"must be a whole number >= 0, got {x[i]} at {i}")
    if (bad := t < 0).any():
        raise ClvInputError("T", f"must be >= 0, got {t[_first(bad)]} at {_first(bad)}")
    if (bad := (t_x < 0) | (t_x > t)).any():
        i = _first(bad)
        raise ClvInputError("recency", f"must lie in [0, T], got {t_x[i]} > T={t[i]} at {i}")
    if (bad := (x > 0) != (t_x > 0)).any():
        i = _first(bad)
        raise ClvInputError(
            "recency",
            f"must be > 0 exactly when frequency > 0, got recency {t_x[i]} with frequency "
            f"{x[i]} at {i}",
        )
    return np.ascontiguousarray(x), np.ascontiguousarray(t_x), np.ascontiguousarray(t)


def _broadcastable(*arrays: FloatArray) -> bool:
    """Whether some but not all arrays have one element (a scalar applied to every customer)."""
    sizes = {len(a) for a in arrays}
    return len(sizes) == 2 and 1 in sizes


def as_spend(
    frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Validated (frequency, monetary_value) for the Gamma-Gamma model: monetary_value > 0
    where frequency > 0 (it is ignored where frequency is 0)."""
    x = as_float_array(frequency, "frequency")
    m = as_float_array(monetary_value, "monetary_value")
    if len(x) != len(m):
        raise ClvInputError("monetary_value", f"length {len(m)} differs from frequency's {len(x)}")
    if (bad := (x < 0) | (x != np.floor(x))).any():
        i = _first(bad)
        raise ClvInputError("frequency", f"must be a whole number >= 0, got {x[i]} at {i}")
    if (bad := (x > 0) & (m <= 0)).any():
        i = _first(bad)
        raise ClvInputError("monetary_value", f"must be > 0 for repeat buyers, got {m[i]} at {i}")
    return x, m


@dataclass(frozen=True)
class Rft:
    """Validated (frequency, recency, T) rows with a weight each (how many customers share
    the row), the distinct frequencies ``ux`` and each row's index into them
    (``ux[idx] == x``), for likelihoods that evaluate special functions of x once per
    distinct value, and skip the repeat-purchase terms on a leading block of x = 0 rows."""

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    weight: FloatArray
    ux: FloatArray
    idx: npt.NDArray[np.intp]
    n_zero: int = 0
    """The first ``n_zero`` rows have x = 0 (rows of x = 0 may also come later unless the
    rows are sorted by x, as :meth:`compressed` sorts them)."""

    @classmethod
    def of(cls, x: FloatArray, t_x: FloatArray, T: FloatArray) -> Rft:
        """One row per customer, in order."""
        ux, idx = np.unique(x, return_inverse=True)
        return cls(x, t_x, T, np.ones_like(x), ux, idx.reshape(-1))

    @classmethod
    def compressed(cls, x: FloatArray, t_x: FloatArray, T: FloatArray) -> Rft:
        """One row per distinct (x, t_x, T), weighted by its count (a fit needs no more:
        customers with equal summaries have equal likelihoods)."""
        order = np.lexsort((T, t_x, x))
        xs, txs, ts = x[order], t_x[order], T[order]
        new = np.ones(len(xs), dtype=bool)
        new[1:] = (np.diff(xs) != 0) | (np.diff(txs) != 0) | (np.diff(ts) != 0)
        starts = np.flatnonzero(new)
        counts = np.diff(np.append(starts, len(xs))).astype(np.float64)
        x1 = xs[starts]
        ux, idx = np.unique(x1, return_inverse=True)
        n_zero = int(np.searchsorted(x1, 0.0, side="right"))
        return cls(x1, txs[starts], ts[starts], counts, ux, idx.reshape(-1), n_zero)
