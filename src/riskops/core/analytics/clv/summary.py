"""Transactions → the per-customer RFM summary the CLV models take, as the CLV literature
(Fader, Hardie & Lee) defines it, at a given observation end:

- ``frequency`` x: the number of *repeat purchase periods*, i.e. distinct calendar days with a
  purchase after the customer's first day (several purchases on one day are one);
- ``recency`` t_x: day of the last repeat purchase minus the first day (0 when x = 0);
- ``T``: observation end day minus the first day;
- ``monetary_value``: the mean spend per repeat purchase day (the first day's spend is left
  out; 0 when x = 0);

in days or weeks (days / 7). Times are calendar days: datetime64 values, ``datetime.date`` /
``datetime.datetime`` objects, ISO date strings, or plain numbers counted in days (whole days
are periods, fractions are times of day). Aware datetimes count in UTC days (pass naive local
datetimes for local days). Lines after the observation end are ignored (and
counted): summarising at the end of a calibration period leaves the holdout out.

Bad input and edge cases
------------------------
- empty data, unequal lengths, NaN / NaT / infinite times or amounts, missing customer ids:
  :class:`~riskops.core.analytics.clv.errors.ClvInputError` naming the field and the reason;
- amount ≤ 0 (returns, cancellations, free items): such a line is no purchase: it adds no
  repeat period, does not move recency and is left out of monetary_value; it is counted in
  ``n_nonpositive_lines``. A zero-amount line can still be a customer's *first* line (their
  acquisition; CDNOW's published 2,357-customer cohort has eight customers whose only line is
  a $0.00 one); a negative line never starts a customer, and a customer with only negative
  lines up to the end is left out and counted in ``n_customers_without_purchase``;
- identical timestamps: lines of one customer on one day are one purchase period (their
  amounts add up); if every customer's first day is the end day, T is 0 for all, which the
  fits refuse (:class:`~riskops.core.analytics.clv.errors.ClvFitError`);
- one customer: a summary of one row (the fits need more).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from riskops.core.analytics.clv._scipy import FloatArray
from riskops.core.analytics.clv.errors import ClvInputError

TimeLike = npt.ArrayLike | Sequence[dt.date] | Sequence[str]
_DAY = np.timedelta64(1, "D")
_EPOCH = np.datetime64("1970-01-01T00:00:00", "us")


@dataclass(frozen=True)
class CustomerSummary:
    """One row per customer (sorted by id) and the counts of lines the summary set aside."""

    customer_id: npt.NDArray[np.generic]
    frequency: npt.NDArray[np.int64]
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray
    unit: Literal["days", "weeks"]
    n_lines: int
    n_lines_after_end: int
    n_nonpositive_lines: int
    n_customers_without_purchase: int

    @property
    def n_customers(self) -> int:
        return len(self.customer_id)


def _naive_utc(value: object) -> object:
    """An aware datetime as naive UTC (numpy has no time zones); anything else as is."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def to_days(values: TimeLike, field: str) -> FloatArray:
    """Times as float days since 1970-01-01 (numbers are taken as days already)."""
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.dtype.kind in "iuf":
        days = arr.astype(np.float64)
    else:
        if arr.dtype == object:
            arr = np.array([_naive_utc(v) for v in arr.ravel()], dtype=object)
        try:
            stamps = arr.astype("datetime64[us]")
        except (TypeError, ValueError) as exc:
            raise ClvInputError(field, f"not dates or times ({exc})") from None
        if (nat := np.isnat(stamps)).any():
            raise ClvInputError(field, f"missing (NaT/None) at line {int(np.argmax(nat))}")
        days = (stamps - _EPOCH) / _DAY
    if (bad := ~np.isfinite(days)).any():
        i = int(np.argmax(bad))
        raise ClvInputError(field, f"not finite ({days[i]}) at line {i}")
    return np.asarray(days, dtype=np.float64)


def summarize(
    customer_id: npt.ArrayLike,
    time: TimeLike,
    amount: npt.ArrayLike,
    *,
    observation_end: dt.date | dt.datetime | str | float | np.datetime64,
    unit: Literal["days", "weeks"] = "weeks",
) -> CustomerSummary:
    """The RFM summary of transaction lines (``customer_id[i]`` bought for ``amount[i]`` at
    ``time[i]``) as of the end of the day ``observation_end`` (see the module doc)."""
    if unit not in ("days", "weeks"):
        raise ClvInputError("unit", f"must be 'days' or 'weeks', got {unit!r}")
    ids = np.asarray(customer_id)
    if ids.ndim != 1 or len(ids) == 0:
        raise ClvInputError("customer_id", "no transaction lines (empty input)")
    n = len(ids)
    days = to_days(time, "time")
    try:
        amounts = np.asarray(amount, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ClvInputError("amount", f"not numbers ({exc})") from None
    for field, arr in (("time", days), ("amount", amounts)):
        if arr.shape != (n,):
            raise ClvInputError(field, f"has {arr.size} values for {n} customer ids")
    if (bad := ~np.isfinite(amounts)).any():
        raise ClvInputError("amount", f"not finite (NaN or inf) at line {int(np.argmax(bad))}")
    if ids.dtype.kind == "f" and (bad := np.isnan(ids)).any():
        raise ClvInputError("customer_id", f"missing (NaN) at line {int(np.argmax(bad))}")
    if ids.dtype == object and (bad := np.array([v is None for v in ids])).any():
        raise ClvInputError("customer_id", f"missing (None) at line {int(np.argmax(bad))}")
    try:
        uniq, code = np.unique(ids, return_inverse=True)
    except TypeError as exc:
        raise ClvInputError(
            "customer_id", f"ids of mixed types cannot be ordered ({exc})"
        ) from None
    code = code.reshape(-1)
    end = np.array([observation_end])
    if (end.dtype.kind in "iuf") != (np.asarray(time).dtype.kind in "iuf"):
        raise ClvInputError(
            "observation_end", "must be of the same kind as time: both dates or both day numbers"
        )
    end_day = int(np.floor(to_days(end, "observation_end")[0]))
    day = np.floor(days).astype(np.int64)

    seen = day <= end_day
    nonpositive = seen & (amounts <= 0)
    purchase = seen & (amounts > 0)
    opens = seen & (amounts >= 0)  # lines that can be a customer's first
    no_day = np.iinfo(np.int64).max
    first = np.full(len(uniq), no_day, dtype=np.int64)
    np.minimum.at(first, code[opens], day[opens])
    born = first != no_day

    repeat = purchase & (day > first[code])
    rc, rd, ra = code[repeat], day[repeat], amounts[repeat]
    # repeat purchase periods: distinct (customer, day) pairs, as one int64 key each
    span = int(rd.max() - rd.min() + 1) if len(rd) else 1
    key = np.unique(rc * span + (rd - (rd.min() if len(rd) else 0)))
    frequency = np.bincount(key // span, minlength=len(uniq)).astype(np.int64)
    last = first.copy()
    np.maximum.at(last, rc, rd)
    spend = np.bincount(rc, weights=ra, minlength=len(uniq))
    had_lines = np.bincount(code[seen], minlength=len(uniq)) > 0

    per = 7.0 if unit == "weeks" else 1.0
    freq = frequency[born]
    monetary = np.where(freq > 0, spend[born] / np.maximum(freq, 1), 0.0)
    return CustomerSummary(
        customer_id=uniq[born],
        frequency=freq,
        recency=(last[born] - first[born]) / per,
        T=(end_day - first[born]) / per,
        monetary_value=monetary,
        unit=unit,
        n_lines=n,
        n_lines_after_end=int((~seen).sum()),
        n_nonpositive_lines=int(nonpositive.sum()),
        n_customers_without_purchase=int((had_lines & ~born).sum()),
    )
