"""Typed wrappers of the few scipy functions the CLV models use. scipy ships no type
information: its modules are loaded with ``importlib`` (typed as plain modules whose attributes
are ``Any``), so type checking needs neither stubs nor an ignore comment, and everything else
in the package sees typed functions only."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

_special = importlib.import_module("scipy.special")
_optimize = importlib.import_module("scipy.optimize")

FloatArray = npt.NDArray[np.float64]


def gammaln(x: npt.ArrayLike) -> FloatArray:
    """log |Γ(x)|."""
    return np.asarray(_special.gammaln(x), dtype=np.float64)


def betaln(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """log |B(a, b)|."""
    return np.asarray(_special.betaln(a, b), dtype=np.float64)


def digamma(x: npt.ArrayLike) -> FloatArray:
    """ψ(x) = d log Γ(x) / dx."""
    return np.asarray(_special.digamma(x), dtype=np.float64)


def hyp2f1(a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike, z: npt.ArrayLike) -> FloatArray:
    """The Gaussian hypergeometric function ₂F₁(a, b; c; z)."""
    return np.asarray(_special.hyp2f1(a, b, c, z), dtype=np.float64)


def exprel(x: npt.ArrayLike) -> FloatArray:
    """(eˣ − 1) / x, 1 at x = 0, without cancellation near 0."""
    return np.asarray(_special.exprel(x), dtype=np.float64)


@dataclass(frozen=True)
class Minimum:
    """What :func:`minimize` found (``grad`` is empty when the method has none)."""

    x: FloatArray
    fun: float
    success: bool
    nit: int
    message: str
    grad: FloatArray


def minimize(
    fun: Callable[[FloatArray], Any],
    x0: FloatArray,
    *,
    method: str,
    jac: bool,
    options: dict[str, float | int],
    callback: Callable[[FloatArray], None] | None = None,
) -> Minimum:
    """``scipy.optimize.minimize`` (unbounded) with a typed result; ``callback`` sees each
    iterate and may raise ``StopIteration`` to end the search there."""
    res = _optimize.minimize(fun, x0, method=method, jac=jac, options=options, callback=callback)
    grad = getattr(res, "jac", None)
    return Minimum(
        x=np.asarray(res.x, dtype=np.float64),
        fun=float(res.fun),
        success=bool(res.success),
        nit=int(getattr(res, "nit", 0)),
        message=str(res.message),
        grad=np.asarray(grad if grad is not None else [], dtype=np.float64),
    )
