"""What every CLV fit shares: the :class:`FitResult`, the checks that refuse ill-posed data
before fitting, and :func:`maximise`, the multi-start maximum-likelihood search over
log-parameters that refuses a fit that did not converge or whose parameters ran off to 0 or
infinity (never a silent NaN or a degenerate answer).

The search runs BFGS on log-parameters (so every parameter stays > 0), kept inside a box by a
penalty: every parameter in ``[e^-B, e^B]`` with ``B = LOG_BOUND`` on the *standardised*
scale each model chooses (times divided by the mean T, money by the mean spend), so the box
means the same for data in days or weeks, cents or dollars. A parameter that ends within
``AT_BOUND_TOL`` of the box has collapsed, and so has a model's derived quantity that left its
range (the mean dropout below ``MIN_MEAN_DROPOUT``): such a run is stopped as soon as its
iterate gets there and the fit refused with ``PARAMETER_AT_BOUND``.

On large data (more than ``2 * PILOT_SIZE`` rows) the starts are preceded by the optimum of a
fit on a fixed pseudo-random subset, and the first start that converges is taken: one short
run on the full data instead of several long ones."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from riskops.core.analytics.clv._scipy import FloatArray, Minimum, minimize
from riskops.core.analytics.clv.errors import ClvFitError, FitFailure

M = TypeVar("M")

MIN_CUSTOMERS = 30
"""Default minimum of customers (of repeat buyers for Gamma-Gamma) a fit accepts."""
LOG_BOUND = float(np.log(1e5))
"""Half-width of the box of standardised log-parameters the search stays in."""
AT_BOUND_TOL = 0.05
"""A standardised log-parameter this close to the box has collapsed to 0 or infinity."""
MIN_MEAN_DROPOUT = 1e-4
"""Below this mean dropout (BG/NBD: probability per purchase; Pareto/NBD: expected dropouts
per mean observation time) nobody leaves: the dropout parameters are not identified."""
PILOT_SIZE = 20_000
"""Fits on more than twice this many customers (or rows) start from a fit on this many."""
MAX_ITERATIONS = 500
"""Iteration cap of each BFGS run (and of each Nelder-Mead polish)."""
GTOL = 1e-7
"""BFGS stops when every component of the mean log-likelihood's gradient is below this."""
FLAT_GRADIENT = 1e-6
"""A stopped search whose gradient (of the mean log-likelihood) is below this has converged."""


@dataclass(frozen=True)
class FitResult(Generic[M]):
    """A maximum-likelihood fit: the fitted ``model`` (its parameters also in ``params``), the
    maximised log-likelihood, how many customers it saw and what the optimiser reported.
    ``warnings`` holds doubts that do not invalidate the fit (e.g. Gamma-Gamma's independence
    assumption looks violated)."""

    model_name: str
    model: M
    params: Mapping[str, float]
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int
    warnings: tuple[str, ...] = field(default=())


class TransactionModel(Protocol):
    """A purchase model that predicts a customer's purchases over the next ``t`` time units."""

    def conditional_expected_purchases(
        self, t: npt.ArrayLike, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray: ...


def check_purchase_data(
    x: FloatArray, T: FloatArray, *, model: str, min_customers: int = MIN_CUSTOMERS
) -> None:
    """Refuse data a purchase model cannot be fitted to (:class:`ClvFitError`)."""
    if len(x) < min_customers:
        raise ClvFitError(
            FitFailure.TOO_FEW_CUSTOMERS,
            f"{model} needs at least {min_customers} customers, got {len(x)}",
        )
    if not (T > 0).any():
        raise ClvFitError(
            FitFailure.NO_OBSERVATION_TIME,
            f"{model}: T is 0 for every customer (all first seen at the observation end)",
        )
    if not (x > 0).any():
        raise ClvFitError(
            FitFailure.NO_REPEAT_BUYERS,
            f"{model}: none of the {len(x)} customers bought again (frequency 0 for all)",
        )


Objective = Callable[[FloatArray], tuple[float, FloatArray]]
"""Standardised log-parameters -> (mean negative log-likelihood, its gradient)."""
Collapse = Callable[[FloatArray], str | None]
"""Standardised log-parameters -> what has collapsed to a degenerate limit, or None."""


@dataclass(frozen=True)
class Optimum:
    """The best point :func:`maximise` found, on the standardised log scale."""

    log_params: FloatArray
    neg_mean_ll: float
    iterations: int


def numeric_gradient(value: Callable[[FloatArray], float], step: float = 1e-5) -> Objective:
    """``value`` with a central-difference gradient (for likelihoods without an analytic
    one)."""

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        f0 = value(theta)
        grad = np.empty_like(theta)
        for i in range(len(theta)):
            e = np.zeros_like(theta)
            e[i] = step
            grad[i] = (value(theta + e) - value(theta - e)) / (2 * step)
        return f0, grad

    return objective


def _boxed(objective: Objective) -> Objective:
    """``objective`` evaluated at the point clipped into the box, plus a quadratic penalty on
    the distance outside it: defined everywhere, no overflow, and a runaway parameter stops at
    the box where :func:`maximise` sees it."""

    def boxed(theta: FloatArray) -> tuple[float, FloatArray]:
        inside = np.clip(theta, -LOG_BOUND, LOG_BOUND)
        f, g = objective(inside)
        excess = theta - inside
        if not np.isfinite(f) or not np.isfinite(g).all():
            return float("inf"), np.zeros_like(theta)
        g = np.where(excess == 0, g, 0.0) + 2 * excess
        return float(f + (excess**2).sum()), g

    return boxed


def _boxed_value(value: Callable[[FloatArray], float]) -> Callable[[FloatArray], float]:
    """:func:`_boxed` for a value without gradient."""

    def boxed(theta: FloatArray) -> float:
        inside = np.clip(theta, -LOG_BOUND, LOG_BOUND)
        f = value(inside)
        return float(f + ((theta - inside) ** 2).sum()) if np.isfinite(f) else float("inf")

    return boxed


def _on_box(theta: FloatArray) -> npt.NDArray[np.bool_]:
    return np.abs(theta) > LOG_BOUND - AT_BOUND_TOL


def pilot_rows(n: int) -> npt.NDArray[np.intp] | None:
    """A fixed pseudo-random subset of ``PILOT_SIZE`` of ``n`` rows for a pilot fit whose
    optimum starts the full fit (one run of a few iterations instead of several long ones);
    None when n is small enough to fit from the default starts directly."""
    if n <= 2 * PILOT_SIZE:
        return None
    return np.sort(np.random.default_rng(0).choice(n, PILOT_SIZE, replace=False))


def maximise(
    objective: Objective,
    starts: Sequence[Sequence[float] | FloatArray],
    names: Sequence[str],
    *,
    model: str,
    max_iterations: int = MAX_ITERATIONS,
    value: Callable[[FloatArray], float] | None = None,
    collapse: Collapse | None = None,
    first_good: bool = False,
) -> Optimum:
    """Minimise ``objective`` (the mean negative log-likelihood of standardised
    log-parameters and its gradient) by BFGS from each start, polishing a run that stopped
    short (not on the box) with Nelder-Mead on ``value`` (the objective without gradient, if
    cheaper), and keep the best. Raises :class:`ClvFitError` when no start
    reached a finite value, the best is degenerate (a parameter on the box, or ``collapse``
    names a derived quantity that collapsed), or the best did not converge (within
    ``max_iterations`` per start and method). A run stops as soon as its iterate turns
    degenerate: the rest of the way to the limit is flat, slow and tells nothing. scipy's own
    warnings are silenced: convergence is judged here."""
    boxed = _boxed(objective)
    boxed_value = _boxed_value(value if value is not None else lambda t: objective(t)[0])

    def degenerate(theta: FloatArray) -> str | None:
        on_box = _on_box(theta)
        if on_box.any():
            i = int(np.argmax(on_box))
            direction = "0" if theta[i] < 0 else "infinity"
            return f"parameter {names[i]} collapsed towards {direction}"
        return collapse(theta) if collapse is not None else None

    def stop_when_degenerate(theta: FloatArray) -> None:
        if degenerate(theta) is not None:
            raise StopIteration

    best: Minimum | None = None
    best_ok = False
    iterations = 0
    for start in starts:
        x0 = np.clip(np.asarray(start, dtype=np.float64), -LOG_BOUND + 1, LOG_BOUND - 1)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = minimize(
                boxed,
                x0,
                method="BFGS",
                jac=True,
                options={"maxiter": max_iterations, "gtol": GTOL},
                callback=stop_when_degenerate,
            )
            iterations += res.nit
            ok = np.isfinite(res.fun) and (res.success or _flat(res))
            if not ok and np.isfinite(res.fun) and degenerate(res.x) is None:
                res, ok = _polish(boxed_value, res, max_iterations)
                iterations += res.nit
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best, best_ok = res, ok
        if first_good and ok and degenerate(res.x) is None:
            best, best_ok = res, ok
            break
    if best is None:
        raise ClvFitError(
            FitFailure.NON_FINITE, f"{model}: the log-likelihood is not finite at any start"
        )
    if (what := degenerate(best.x)) is not None:
        values = ", ".join(f"{n}={v:.3g}" for n, v in zip(names, np.exp(best.x), strict=True))
        raise ClvFitError(
            FitFailure.PARAMETER_AT_BOUND,
            f"{model}: {what} (standardised {values}); the data fit a degenerate limit of "
            "the model",
        )
    if not best_ok:
        raise ClvFitError(
            FitFailure.NOT_CONVERGED,
            f"{model}: the optimiser did not converge ({best.message}) after {iterations} "
            "iterations",
        )
    return Optimum(log_params=best.x, neg_mean_ll=best.fun, iterations=iterations)


def _flat(res: Minimum) -> bool:
    """BFGS stopped on "precision loss" where the gradient is already negligible."""
    return res.grad.size > 0 and float(np.abs(res.grad).max()) < FLAT_GRADIENT


def _polish(
    value: Callable[[FloatArray], float], res: Minimum, max_iterations: int
) -> tuple[Minimum, bool]:
    """Nelder-Mead from where BFGS stopped short."""
    polished = minimize(
        value,
        res.x,
        method="Nelder-Mead",
        jac=False,
        options={"maxiter": 2 * max_iterations, "xatol": 1e-7, "fatol": 1e-12},
    )
    if polished.fun <= res.fun:
        return polished, polished.success and bool(np.isfinite(polished.fun))
    return res, False


def params_dict(names: Sequence[str], values: Sequence[float]) -> dict[str, float]:
    """``{name: value}`` as plain floats."""
    return {n: float(v) for n, v in zip(names, values, strict=True)}
