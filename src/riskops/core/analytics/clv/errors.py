"""The two ways the CLV code refuses: bad input data (:class:`ClvInputError`, naming the field
and the reason) and a fit that has no meaningful answer (:class:`ClvFitError`, with a reason
code from :class:`FitFailure`). Both are ``ValueError`` subclasses."""

from __future__ import annotations

from enum import StrEnum


class ClvInputError(ValueError):
    """Input that the summary or a model cannot use: ``field`` names the argument (or column),
    ``reason`` says what is wrong with it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class FitFailure(StrEnum):
    """Why a fit was refused."""

    TOO_FEW_CUSTOMERS = "too_few_customers"
    """Fewer customers (or, for Gamma-Gamma, repeat buyers) than the fit's minimum."""
    NO_REPEAT_BUYERS = "no_repeat_buyers"
    """Nobody bought twice: purchase rates and dropout cannot be told apart."""
    NO_OBSERVATION_TIME = "no_observation_time"
    """T == 0 for every customer: all were first seen at the end of the observation."""
    NOT_CONVERGED = "not_converged"
    """The optimiser stopped without meeting its convergence criteria."""
    PARAMETER_AT_BOUND = "parameter_at_bound"
    """A parameter ran to 0 or to a huge value: the data fit a degenerate limit of the model."""
    NON_FINITE = "non_finite"
    """The log-likelihood is not finite anywhere the optimiser looked."""


class ClvFitError(ValueError):
    """A fit that would only return nonsense; ``reason`` says which kind."""

    def __init__(self, reason: FitFailure, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
