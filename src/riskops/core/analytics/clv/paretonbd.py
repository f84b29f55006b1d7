"""The Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987; likelihood as in
Fader & Hardie 2005, "A note on deriving the Pareto/NBD model and related expressions"):
while alive a customer buys as a Poisson process of rate λ, λ ~ Gamma(r, α); their lifetime
is exponential with rate μ, μ ~ Gamma(s, β); both unobserved, independent.

Individual likelihood, integrated over λ and μ::

    L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^-(r+x) (β+T)^-s + s · J ]
    J = ∫_{t_x}^{T} (α+τ)^-(r+x) (β+τ)^-(s+1) dτ = (G(t_x) − G(T)) / (r+s+x)

The usual closed form writes ``(r+s+x)·∫_u^∞`` as ₂F₁(r+s+x, s+1; r+s+x+1; (α−β)/(α+u)) /
(α+u)^(r+s+x) when α ≥ β, or ₂F₁(r+s+x, r+x; r+s+x+1; (β−α)/(β+u)) / (β+u)^(r+s+x) when
α < β (z stays in [0, 1)). Those ₂F₁ grow like (1−z)^-s and the powers overflow for large x;
Euler's transformation ₂F₁(a, b; c; z) = (1−z)^(c−a−b) ₂F₁(c−a, c−b; c; z) turns them into

    G(u) = ₂F₁(1, r+x; r+s+x+1; z) / ((α+u)^(r+x) (β+u)^s)                  (α ≥ β)
    G(u) = ₂F₁(1, s+1; r+s+x+1; z) (α+u)^(1−r−x) / (β+u)^(s+1)             (α < β)

whose ₂F₁ lie in [1, 1/(1−z)] (positive series bounded by the geometric one). Everything is
then computed in logs: log G, the difference G(t_x) − G(T) as log G(t_x) + log(1 − e^(log G(T)
− log G(t_x))), and the bracket with ``logaddexp``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from riskops.core.analytics.clv._scipy import FloatArray, exprel, gammaln, hyp2f1
from riskops.core.analytics.clv.data import Rft, as_float_array, as_rft, wsum
from riskops.core.analytics.clv.errors import ClvFitError
from riskops.core.analytics.clv.fit import (
    MAX_ITERATIONS,
    MIN_CUSTOMERS,
    MIN_MEAN_DROPOUT,
    FitResult,
    check_purchase_data,
    maximise,
    numeric_gradient,
    params_dict,
    pilot_rows,
)

NAMES = ("r", "alpha", "s", "beta")


@dataclass(frozen=True)
class ParetoNbd:
    """Pareto/NBD parameters: purchase rate λ ~ Gamma(shape r, rate α), dropout rate
    μ ~ Gamma(shape s, rate β) (α, β in the time unit of the data)."""

    r: float
    alpha: float
    s: float
    beta: float

    def __post_init__(self) -> None:
        for name in NAMES:
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"Pareto/NBD parameter {name} must be finite and > 0, got {value}")

    def log_likelihood(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """Each customer's log-likelihood (their sum is the model's)."""
        data = Rft.of(*as_rft(frequency, recency, T))
        params = np.array([self.r, self.alpha, self.s, self.beta])
        return _loglik(params, data)[0]

    def expected_purchases(self, t: npt.ArrayLike) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in ``t`` time units after the
        first purchase."""
        ts = as_float_array(t, "t")
        return self._expected_if_alive(ts, np.zeros_like(ts), np.zeros_like(ts))

    def probability_alive(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """P(still alive at T | x, t_x, T)."""
        data = Rft.of(*as_rft(frequency, recency, T))
        params = np.array([self.r, self.alpha, self.s, self.beta])
        _, log_first, log_bracket = _loglik(params, data)
        return np.exp(log_first - log_bracket)

    def conditional_expected_purchases(
        self, t: npt.ArrayLike, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the ``t`` time units after T."""
        ts = as_float_array(t, "t")
        if (ts < 0).any():
            raise ValueError("t must be >= 0")
        alive = self.probability_alive(frequency, recency, T)
        x, _, tt = as_rft(frequency, recency, T)
        ts, x, tt, alive = np.broadcast_arrays(ts, x, tt, alive)
        return self._expected_if_alive(ts, x, tt) * alive

    def _expected_if_alive(self, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
        """E[purchases in (T, T+t] | alive at T, x, T]: (r+x)/(α+T) · (β+T)/(s−1) ·
        (1 − ((β+T)/(β+T+t))^(s−1)), written with exprel so that s = 1 is no singularity."""
        horizon = np.log1p(t / (self.beta + T))
        per_time = (self.r + x) / (self.alpha + T)
        out = per_time * (self.beta + T) * horizon * exprel(-(self.s - 1) * horizon)
        if not np.isfinite(out).all():
            raise ValueError("Pareto/NBD expectation is not finite for these inputs")
        return out


def _log_g(
    u: FloatArray, x: FloatArray, r: float, alpha: float, s: float, beta: float
) -> FloatArray:
    """log G(u) = log((r+s+x) ∫_u^∞ (α+τ)^-(r+x) (β+τ)^-(s+1) dτ), Euler-transformed."""
    c = r + s + x + 1
    if alpha >= beta:
        z = (alpha - beta) / (alpha + u)
        f = hyp2f1(1.0, r + x, c, z)
        return np.log(f) - (r + x) * np.log(alpha + u) - s * np.log(beta + u)
    z = (beta - alpha) / (beta + u)
    f = hyp2f1(1.0, s + 1, c, z)
    return np.log(f) + (1 - r - x) * np.log(alpha + u) - (s + 1) * np.log(beta + u)


def _loglik(params: FloatArray, data: Rft) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-customer log-likelihood, log of the "alive at T" term and log of the bracket."""
    r, alpha, s, beta = (float(v) for v in params)
    x, t_x, T = data.x, data.t_x, data.T
    u_base = gammaln(r + data.ux) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_first = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_g_tx = _log_g(t_x, x, r, alpha, s, beta)
    log_g_t = _log_g(T, x, r, alpha, s, beta)
    with np.errstate(divide="ignore"):
        # G decreases in u, so the difference is >= 0; it is 0 (log -inf) when t_x == T
        gap = np.minimum(log_g_t - log_g_tx, 0.0)
        log_diff = log_g_tx + np.log(-np.expm1(gap))
    log_dead = np.log(s) - np.log(r + s + x) + log_diff
    log_bracket = np.logaddexp(log_first, log_dead)
    return u_base[data.idx] + log_bracket, log_first, log_bracket


def _dropout_collapsed(theta: FloatArray) -> str | None:
    """Whether the mean dropout rate s/β (per mean observation time, the standardised
    unit) has vanished (nobody leaves)."""
    s, beta = np.exp(theta[2:])
    mean_mu = float(s / beta)
    if mean_mu < MIN_MEAN_DROPOUT:
        return f"the mean dropout rate s/β collapsed to {mean_mu:.2g} per mean T"
    return None


def _pilot(x: FloatArray, t_x: FloatArray, T: FloatArray, max_iterations: int) -> ParetoNbd | None:
    """The fit on a subset of a large data set (None: small data, or the subset's fit
    failed)."""
    rows = pilot_rows(len(x))
    if rows is None:
        return None
    try:
        return fit_paretonbd(x[rows], t_x[rows], T[rows], max_iterations=max_iterations).model
    except ClvFitError:
        return None


def fit_paretonbd(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    *,
    min_customers: int = MIN_CUSTOMERS,
    max_iterations: int = MAX_ITERATIONS,
) -> FitResult[ParetoNbd]:
    """Maximum-likelihood Pareto/NBD fit. Raises :class:`ClvFitError` on ill-posed data or
    fits (see :mod:`riskops.core.analytics.clv.fit`) and :class:`ClvInputError` on bad
    input."""
    x, t_x, t = as_rft(frequency, recency, T)
    check_purchase_data(x, t, model="Pareto/NBD", min_customers=min_customers)
    scale = float(t.mean())
    data = Rft.compressed(x, t_x / scale, t / scale)
    n = len(x)

    def value(theta: FloatArray) -> float:
        with np.errstate(all="ignore"):
            return -wsum(_loglik(np.exp(theta), data)[0], data.weight) / n

    rate = float(x.sum() / t.sum() * scale)
    starts = [np.log([1.0, 1.0 / rate, 1.0, 1.0]), np.log([0.5, 0.5 / rate, 0.5, 2.0])]
    pilot = _pilot(x, t_x, t, max_iterations)
    if pilot is not None:
        starts.insert(0, np.log([pilot.r, pilot.alpha / scale, pilot.s, pilot.beta / scale]))
    opt = maximise(
        numeric_gradient(value),
        starts,
        NAMES,
        model="Pareto/NBD",
        max_iterations=max_iterations,
        value=value,
        collapse=_dropout_collapsed,
        first_good=pilot is not None,
    )
    r, alpha_s, s, beta_s = np.exp(opt.log_params)
    model = ParetoNbd(float(r), float(alpha_s * scale), float(s), float(beta_s * scale))
    ll = float(model.log_likelihood(x, t_x, t).sum())
    return FitResult(
        model_name="Pareto/NBD",
        model=model,
        params=params_dict(NAMES, [model.r, model.alpha, model.s, model.beta]),
        log_likelihood=ll,
        n_customers=n,
        converged=True,
        iterations=opt.iterations,
    )
