"""The BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy
way"): while alive a customer buys as a Poisson process of rate λ, λ ~ Gamma(r, α) across
customers; after each repeat purchase they drop out for good with probability p,
p ~ Beta(a, b). Fitted by maximum likelihood on (frequency x, recency t_x, T) per customer.

Individual likelihood, integrated over λ and p (B is the beta function)::

    L = Γ(r+x) α^r / Γ(r) · [ B(a, b+x)/B(a, b) · (α+T)^-(r+x)
                              + [x > 0] B(a+1, b+x-1)/B(a, b) · (α+t_x)^-(r+x) ]

computed in logs with ``logaddexp`` for the bracket. The hypergeometric terms of the
expectations use Euler's transformation so that the large powers of (α+T)/(α+T+t) cancel
analytically instead of in floating point."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from riskops.core.analytics.clv._scipy import FloatArray, betaln, digamma, gammaln, hyp2f1
from riskops.core.analytics.clv.data import Rft, as_float_array, as_rft, wsum
from riskops.core.analytics.clv.errors import ClvFitError
from riskops.core.analytics.clv.fit import (
    MAX_ITERATIONS,
    MIN_CUSTOMERS,
    MIN_MEAN_DROPOUT,
    FitResult,
    check_purchase_data,
    maximise,
    params_dict,
    pilot_rows,
)

NAMES = ("r", "alpha", "a", "b")
_NEAR_ONE = 1e-6


@dataclass(frozen=True)
class BgNbd:
    """BG/NBD parameters: purchase rate λ ~ Gamma(shape r, rate α) (α in the time unit of
    the data), dropout probability p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        for name in NAMES:
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"BG/NBD parameter {name} must be finite and > 0, got {value}")

    def log_likelihood(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """Each customer's log-likelihood (their sum is the model's)."""
        data = Rft.of(*as_rft(frequency, recency, T))
        return _loglik(np.array([self.r, self.alpha, self.a, self.b]), data, grad=False)[0]

    def expected_purchases(self, t: npt.ArrayLike) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in ``t`` time units after the
        first purchase."""
        ts = as_float_array(t, "t")
        return self._expected(ts, np.zeros_like(ts), np.zeros_like(ts))

    def probability_alive(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """P(still active at T | x, t_x, T); 1 for customers who never bought again (the
        model lets customers drop out only right after a repeat purchase)."""
        x, t_x, t = as_rft(frequency, recency, T)
        return self._p_alive(x, t_x, t)

    def conditional_expected_purchases(
        self, t: npt.ArrayLike, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the ``t`` time units after T."""
        x, t_x, tt = as_rft(frequency, recency, T)
        ts = as_float_array(t, "t")
        if (ts < 0).any():
            raise ValueError("t must be >= 0")
        ts, x, t_x, tt = np.broadcast_arrays(ts, x, t_x, tt)
        return self._expected(ts, x, tt) * self._p_alive(x, t_x, tt)

    def _p_alive(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (
                np.log(a)
                - np.log(np.where(x > 0, b + x - 1, 1.0))
                + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
            )
        return np.where(x > 0, np.exp(-np.logaddexp(0.0, log_odds)), 1.0)

    def _expected(self, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
        """E[purchases in (T, T+t] | alive at T, x] (before the P(alive) factor)."""
        if abs(self.a - 1.0) < _NEAR_ONE:
            # a removable singularity at a = 1: the mean of two points either side of it
            lo, hi = (BgNbd(self.r, self.alpha, 1.0 + s * _NEAR_ONE, self.b) for s in (-2, 2))
            return 0.5 * (lo._expected(t, x, T) + hi._expected(t, x, T))
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        c = a + b + x - 1
        # (1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z)  (Euler)
        with np.errstate(all="ignore"):
            tail = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, c, z)
            out = c / (a - 1) * (1 - tail)
        if not np.isfinite(out).all():
            raise ValueError(
                f"BG/NBD expectation is not finite for these parameters (a + b = {a + b:.4g}; "
                "the closed form needs a + b > 1)"
            )
        return np.maximum(out, 0.0)


def _loglik(params: FloatArray, data: Rft, *, grad: bool) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and (with ``grad``) the weighted sum of its gradient with
    respect to the log-parameters (4 numbers).

    The bracket is the "alive" term times 1 + e^d, with d the log-odds of the "dropped out
    after the last purchase" term, log(a / (b+x-1)) + (r+x) log((α+T)/(α+t_x)) (−∞ for x = 0),
    so log(1 + e^d) is a stable softplus, computed only past the leading block of x = 0 rows.
    Special functions of x are evaluated once per distinct frequency and gathered."""
    r, alpha, a, b = (float(v) for v in params)
    x, t_x, T, ux, idx, k = data.x, data.t_x, data.T, data.ux, data.idx, data.n_zero
    uxm1 = np.maximum(ux - 1, 0.0)
    # per distinct frequency: the constant of the "alive" term, the dropout log-odds
    u_base = gammaln(r + ux) - gammaln(r) + r * np.log(alpha) + betaln(a, b + ux) - betaln(a, b)
    u_odds = np.where(ux > 0, np.log(a) - np.log(b + uxm1), -np.inf)
    log_a_t = np.log(alpha + T)
    rx = r + x
    ll = u_base[idx] - rx * log_a_t
    rep = slice(k, None)  # rows that may have x > 0
    log_gap = log_a_t[rep] - np.log(alpha + t_x[rep])  # log((α+T)/(α+t_x)) >= 0
    d = u_odds[idx[rep]] + rx[rep] * log_gap
    softplus = np.maximum(d, 0.0) + np.log1p(np.exp(-np.abs(d)))
    ll[rep] += softplus
    if not grad:
        return ll, np.empty(0)
    w = data.weight
    w_rep = w[rep]
    w_dead = np.exp(d - softplus) * w_rep  # the "dropped out" term's share, weighted
    n_by_x = np.bincount(idx, weights=w, minlength=len(ux))  # weight per distinct x
    dead_by_x = np.bincount(idx[rep], weights=w_dead, minlength=len(ux))
    psi_abx = digamma(a + b + ux)
    psi_ab, psi_b = digamma(np.array([a + b, b]))
    u_dr = digamma(r + ux) - digamma(r) + np.log(alpha)
    g_r = u_dr @ n_by_x - wsum(log_a_t, w) + wsum(log_gap, w_dead)
    inv_t = 1.0 / (alpha + T)
    inv_tx = 1.0 / (alpha + t_x[rep])
    g_alpha = (
        r / alpha * w.sum() - wsum(rx * inv_t, w) - wsum(rx[rep] * (inv_tx - inv_t[rep]), w_dead)
    )
    u_da_alive = psi_ab - psi_abx
    g_a = u_da_alive @ n_by_x + w_dead.sum() / a  # ψ(a+1) − ψ(a) = 1/a
    u_db_alive = digamma(b + ux) - psi_abx - (psi_b - psi_ab)
    u_db_shift = digamma(b + uxm1) - digamma(b + ux)
    g_b = u_db_alive @ n_by_x + u_db_shift @ dead_by_x
    return ll, np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])


def _dropout_collapsed(theta: FloatArray) -> str | None:
    """Whether the mean dropout probability a/(a+b) has vanished (nobody leaves)."""
    a, b = np.exp(theta[2:])
    mean_p = float(a / (a + b))
    if mean_p < MIN_MEAN_DROPOUT:
        return f"the mean dropout probability a/(a+b) collapsed to {mean_p:.2g}"
    return None


def _pilot(x: FloatArray, t_x: FloatArray, T: FloatArray, max_iterations: int) -> BgNbd | None:
    """The fit on a subset of a large data set (None: small data, or the subset's fit
    failed)."""
    rows = pilot_rows(len(x))
    if rows is None:
        return None
    try:
        return fit_bgnbd(x[rows], t_x[rows], T[rows], max_iterations=max_iterations).model
    except ClvFitError:
        return None


def fit_bgnbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    *,
    min_customers: int = MIN_CUSTOMERS,
    max_iterations: int = MAX_ITERATIONS,
) -> FitResult[BgNbd]:
    """Maximum-likelihood BG/NBD fit. Raises :class:`ClvFitError` on ill-posed data or fits
    (see :mod:`riskops.core.analytics.clv.fit`) and :class:`ClvInputError` on bad input."""
    x, t_x, t = as_rft(frequency, recency, T)
    check_purchase_data(x, t, model="BG/NBD", min_customers=min_customers)
    scale = float(t.mean())
    data = Rft.compressed(x, t_x / scale, t / scale)
    n = len(x)

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        ll, grad = _loglik(np.exp(theta), data, grad=True)
        return -wsum(ll, data.weight) / n, -grad / n

    rate = float(x.sum() / t.sum() * scale)  # repeat purchases per standardised time unit
    starts = [
        np.log([1.0, 1.0 / rate, 1.0, 1.0]),
        np.log([0.3, 0.3 / rate, 0.8, 2.5]),
        np.log([3.0, 3.0 / rate, 2.0, 8.0]),
    ]
    pilot = _pilot(x, t_x, t, max_iterations)
    if pilot is not None:
        starts.insert(0, np.log([pilot.r, pilot.alpha / scale, pilot.a, pilot.b]))
    opt = maximise(
        objective,
        starts,
        NAMES,
        model="BG/NBD",
        max_iterations=max_iterations,
        collapse=_dropout_collapsed,
        first_good=pilot is not None,
    )
    r, alpha_s, a, b = np.exp(opt.log_params)
    model = BgNbd(float(r), float(alpha_s * scale), float(a), float(b))
    ll = float(model.log_likelihood(x, t_x, t).sum())
    return FitResult(
        model_name="BG/NBD",
        model=model,
        params=params_dict(NAMES, [model.r, model.alpha, model.a, model.b]),
        log_likelihood=ll,
        n_customers=n,
        converged=True,
        iterations=opt.iterations,
    )
