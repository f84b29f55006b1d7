"""The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value
curves for customer base analysis") and the discounted customer lifetime value that combines
it with a purchase model.

A customer's transaction values are Gamma(p, ν) (mean p/ν), ν ~ Gamma(q, γ) across customers;
spend is assumed independent of the purchase process. The mean m of a customer's x repeat
transactions is then Gamma(px, νx) given ν, and integrated over ν::

    f(m | x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q · m^(px−1) · x^(px) / (γ + x m)^(px+q)

fitted on repeat buyers only (x > 0; the first purchase's value is not used). The expected
mean transaction value given (x, m) is a weighted average of the population mean pγ/(q−1)
and the customer's own m: E[Z | x, m] = p (γ + x m) / (p x + q − 1) (q > 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from riskops.core.analytics.clv._scipy import FloatArray, digamma, gammaln
from riskops.core.analytics.clv.data import as_float_array, as_spend
from riskops.core.analytics.clv.errors import ClvFitError, FitFailure
from riskops.core.analytics.clv.fit import (
    MAX_ITERATIONS,
    MIN_CUSTOMERS,
    FitResult,
    TransactionModel,
    maximise,
    params_dict,
    pilot_rows,
)

NAMES = ("p", "q", "gamma")
MAX_ABS_CORRELATION = 0.3
"""Above this |corr(frequency, monetary_value)| among repeat buyers the fit warns that the
model's independence assumption looks violated."""
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class GammaGamma:
    """Gamma-Gamma parameters: transaction value ~ Gamma(shape p, rate ν),
    ν ~ Gamma(shape q, rate γ) (γ in money units)."""

    p: float
    q: float
    gamma: float

    def __post_init__(self) -> None:
        for name in NAMES:
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(
                    f"Gamma-Gamma parameter {name} must be finite and > 0, got {value}"
                )

    def log_likelihood(self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> FloatArray:
        """Each repeat buyer's log-density of their mean spend (0 for x = 0: not modelled)."""
        x, m = as_spend(frequency, monetary_value)
        rep = x > 0
        out = np.zeros_like(x)
        params = np.array([self.p, self.q, self.gamma])
        out[rep] = _loglik(params, _Spend.of(x[rep], m[rep]), grad=False)[0]
        return out

    def mean_spend(self) -> float:
        """The population mean transaction value pγ/(q−1) (needs q > 1)."""
        self._need_finite_mean()
        return self.p * self.gamma / (self.q - 1)

    def conditional_expected_average_profit(
        self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
    ) -> FloatArray:
        """E[Z | x, m]: expected mean value of a customer's future transactions (the population
        mean for x = 0, whatever their monetary_value)."""
        self._need_finite_mean()
        x, m = as_spend(frequency, monetary_value)
        m = np.where(x > 0, m, 0.0)
        return self.p * (self.gamma + x * m) / (self.p * x + self.q - 1)

    def _need_finite_mean(self) -> None:
        if self.q <= 1:
            raise ValueError(f"Gamma-Gamma q = {self.q:.4g} <= 1: the mean spend is infinite")


@dataclass(frozen=True)
class _Spend:
    """Repeat buyers' (x, m) with their logs and the distinct frequencies ``ux``
    (``ux[idx] == x``): the gamma functions of p·x are evaluated once per distinct x."""

    x: FloatArray
    m: FloatArray
    log_xm: FloatArray
    ux: FloatArray
    idx: npt.NDArray[np.intp]

    @classmethod
    def of(cls, x: FloatArray, m: FloatArray) -> _Spend:
        ux, idx = np.unique(x, return_inverse=True)
        return cls(x, m, np.log(x) + np.log(m), ux, idx.reshape(-1))


def _loglik(params: FloatArray, d: _Spend, *, grad: bool) -> tuple[FloatArray, FloatArray]:
    """Log-density of each repeat buyer's mean spend and (with ``grad``) its gradient with
    respect to the log-parameters, shape (3, n)."""
    p, q, g = (float(v) for v in params)
    pux = p * d.ux
    log_gxm = np.log(g + d.x * d.m)
    u_const = gammaln(pux + q) - gammaln(pux) - gammaln(q) + q * np.log(g)
    px = p * d.x
    ll = u_const[d.idx] + px * d.log_xm - np.log(d.m) - (px + q) * log_gxm
    if not grad:
        return ll, np.empty((0, len(d.x)))
    psi_pxq = digamma(pux + q)
    d_p = d.x * ((psi_pxq - digamma(pux))[d.idx] + d.log_xm - log_gxm)
    d_q = (psi_pxq - digamma(q))[d.idx] + np.log(g) - log_gxm
    d_g = q / g - (px + q) / (g + d.x * d.m)
    return ll, np.stack([d_p * p, d_q * q, d_g * g])


def fit_gammagamma(
    frequency: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    *,
    min_customers: int = MIN_CUSTOMERS,
    max_iterations: int = MAX_ITERATIONS,
) -> FitResult[GammaGamma]:
    """Maximum-likelihood Gamma-Gamma fit on the repeat buyers (frequency > 0) among the
    customers given; ``n_customers`` of the result counts those. Warns (in the result) when
    |corr(frequency, monetary_value)| among them exceeds ``MAX_ABS_CORRELATION``."""
    x_all, m_all = as_spend(frequency, monetary_value)
    rep = x_all > 0
    x, m = x_all[rep], m_all[rep]
    if not rep.any():
        raise ClvFitError(
            FitFailure.NO_REPEAT_BUYERS,
            f"Gamma-Gamma: none of the {len(x_all)} customers bought again (no spend to model)",
        )
    if len(x) < min_customers:
        raise ClvFitError(
            FitFailure.TOO_FEW_CUSTOMERS,
            f"Gamma-Gamma needs at least {min_customers} repeat buyers, got {len(x)}",
        )
    scale = float(m.mean())
    data = _Spend.of(x, m / scale)
    n = len(x)

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        ll, jac = _loglik(np.exp(theta), data, grad=True)
        return -float(ll.sum()) / n, -jac.sum(axis=1) / n

    starts = [np.log([1.0, 2.0, 1.0]), np.log([5.0, 4.0, 0.6]), np.log([0.5, 1.5, 1.0])]
    rows = pilot_rows(n)
    pilot: GammaGamma | None = None
    if rows is not None:
        try:
            pilot = fit_gammagamma(x[rows], m[rows], max_iterations=max_iterations).model
            starts.insert(0, np.log([pilot.p, pilot.q, pilot.gamma / scale]))
        except ClvFitError:
            pilot = None
    opt = maximise(
        objective,
        starts,
        NAMES,
        model="Gamma-Gamma",
        max_iterations=max_iterations,
        first_good=pilot is not None,
    )
    p, q, g_s = np.exp(opt.log_params)
    model = GammaGamma(float(p), float(q), float(g_s * scale))
    warnings: list[str] = []
    corr = _correlation(x, m)
    if corr is not None and abs(corr) > MAX_ABS_CORRELATION:
        warnings.append(
            f"frequency and monetary_value are correlated (r = {corr:.2f}) among repeat "
            "buyers: the Gamma-Gamma independence assumption looks violated"
        )
    if model.q <= 1:
        warnings.append(f"q = {model.q:.3g} <= 1: the model's mean spend is infinite")
    ll = float(model.log_likelihood(x, m).sum())
    return FitResult(
        model_name="Gamma-Gamma",
        model=model,
        params=params_dict(NAMES, [model.p, model.q, model.gamma]),
        log_likelihood=ll,
        n_customers=n,
        converged=True,
        iterations=opt.iterations,
        warnings=tuple(warnings),
    )


def _correlation(x: FloatArray, m: FloatArray) -> float | None:
    """Pearson correlation, None when either has no spread."""
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(m) == 0:
        return None
    return float(np.corrcoef(x, m)[0, 1])


def customer_lifetime_value(
    transactions: TransactionModel,
    spend: GammaGamma,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    *,
    time_unit: Literal["days", "weeks"],
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
) -> FloatArray:
    """Discounted value of each customer's purchases over the next ``months`` months::

        CLV = margin · E[Z | x, m] · Σ_{i=1..months} (E[Y(i·M)] − E[Y((i−1)·M)]) / (1+d)^i

    with E[Y(t)] the purchase model's conditional expectation, M one month (365.25/12 days) in
    ``time_unit`` (the unit of recency and T) and d the monthly discount rate."""
    if time_unit not in ("days", "weeks"):
        raise ValueError(f"time_unit must be 'days' or 'weeks', got {time_unit!r}")
    if months < 1:
        raise ValueError(f"months must be >= 1, got {months}")
    if not (np.isfinite(monthly_discount_rate) and monthly_discount_rate > -1):
        raise ValueError(f"monthly_discount_rate must be > -1, got {monthly_discount_rate}")
    month = DAYS_PER_MONTH / (7.0 if time_unit == "weeks" else 1.0)
    profit = margin * spend.conditional_expected_average_profit(frequency, monetary_value)
    x = as_float_array(frequency, "frequency")
    value = np.zeros_like(x)
    before = np.zeros_like(x)
    for i in range(1, months + 1):
        after = transactions.conditional_expected_purchases(i * month, frequency, recency, T)
        value += (after - before) / (1 + monthly_discount_rate) ** i
        before = after
    return profit * value
