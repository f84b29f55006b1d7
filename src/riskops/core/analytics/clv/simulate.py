"""Customers drawn from the models, for tests, benchmarks and what-if checks: each function
takes a seeded ``numpy.random.Generator`` and returns arrays like the summary's, drawn exactly
from the model's generative story (vectorised, no per-customer loop)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from riskops.core.analytics.clv._scipy import FloatArray
from riskops.core.analytics.clv.bgnbd import BgNbd
from riskops.core.analytics.clv.gammagamma import GammaGamma
from riskops.core.analytics.clv.paretonbd import ParetoNbd


@dataclass(frozen=True)
class SimulatedCustomers:
    """(frequency, recency, T) of simulated customers."""

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray


def _observation_times(rng: np.random.Generator, n: int, T: npt.ArrayLike) -> FloatArray:
    t = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    if (t < 0).any() or not np.isfinite(t).all():
        raise ValueError("T must be finite and >= 0")
    return t


def _last_of(
    rng: np.random.Generator, x: FloatArray, m: FloatArray, span: FloatArray
) -> FloatArray:
    """Time of the x-th of m events spread uniformly over [0, span] (0 when x = 0): the x-th
    order statistic of m uniforms is Beta(x, m − x + 1)."""
    out = np.zeros_like(span)
    pos = x > 0
    out[pos] = span[pos] * rng.beta(x[pos], m[pos] - x[pos] + 1)
    return out


def simulate_bgnbd(
    rng: np.random.Generator, model: BgNbd, n: int, T: npt.ArrayLike
) -> SimulatedCustomers:
    """``n`` customers observed for ``T`` (scalar or per customer) under BG/NBD: Poisson
    purchases at rate λ, dropout with probability p right after each repeat purchase."""
    t = _observation_times(rng, n, T)
    lam = rng.gamma(model.r, 1.0 / model.alpha, n)
    p = rng.beta(model.a, model.b, n)
    m = rng.poisson(lam * t).astype(np.float64)  # purchases in [0, T] had they all stayed
    lifetime = rng.geometric(np.clip(p, 1e-300, 1.0)).astype(np.float64)  # last repeat
    x = np.minimum(m, lifetime)
    return SimulatedCustomers(x, _last_of(rng, x, m, t), t)


def simulate_paretonbd(
    rng: np.random.Generator, model: ParetoNbd, n: int, T: npt.ArrayLike
) -> SimulatedCustomers:
    """``n`` customers observed for ``T`` under Pareto/NBD: Poisson purchases at rate λ until
    an exponential lifetime of rate μ ends."""
    t = _observation_times(rng, n, T)
    lam = rng.gamma(model.r, 1.0 / model.alpha, n)
    mu = rng.gamma(model.s, 1.0 / model.beta, n)
    active = np.minimum(rng.exponential(1.0 / np.maximum(mu, 1e-300)), t)
    x = rng.poisson(lam * active).astype(np.float64)
    return SimulatedCustomers(x, _last_of(rng, x, x, active), t)


def simulate_spend(
    rng: np.random.Generator, model: GammaGamma, frequency: npt.ArrayLike
) -> FloatArray:
    """Mean value of each customer's ``frequency`` repeat transactions under Gamma-Gamma
    (0 where frequency is 0): given ν ~ Gamma(q, γ), the mean of x Gamma(p, ν) values is
    Gamma(px, νx)."""
    x = np.asarray(frequency, dtype=np.float64)
    nu = rng.gamma(model.q, 1.0 / model.gamma, len(x))
    out = np.zeros_like(x)
    pos = x > 0
    out[pos] = rng.gamma(model.p * x[pos], 1.0 / (nu[pos] * x[pos]))
    return out
