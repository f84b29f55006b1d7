"""Customer-lifetime-value models fitted by maximum likelihood (pure: numpy and scipy).

- :func:`summarize` turns transaction lines into per-customer (frequency, recency, T,
  monetary_value);
- :func:`fit_bgnbd` / :class:`BgNbd` and :func:`fit_paretonbd` / :class:`ParetoNbd` model
  repeat purchases and dropout (expected purchases, probability alive, conditional
  expectations over a horizon);
- :func:`fit_gammagamma` / :class:`GammaGamma` models spend per transaction, and
  :func:`customer_lifetime_value` combines it with a purchase model into discounted value;
- every fit returns a :class:`FitResult` or raises :class:`ClvFitError` (ill-posed data or
  fit, with a :class:`FitFailure` reason); bad input raises :class:`ClvInputError`.

The formulas and the CDNOW reproduction are in docs/clv.md."""

from riskops.core.analytics.clv.bgnbd import BgNbd, fit_bgnbd
from riskops.core.analytics.clv.errors import ClvFitError, ClvInputError, FitFailure
from riskops.core.analytics.clv.fit import FitResult, TransactionModel
from riskops.core.analytics.clv.gammagamma import (
    GammaGamma,
    customer_lifetime_value,
    fit_gammagamma,
)
from riskops.core.analytics.clv.paretonbd import ParetoNbd, fit_paretonbd
from riskops.core.analytics.clv.simulate import (
    SimulatedCustomers,
    simulate_bgnbd,
    simulate_paretonbd,
    simulate_spend,
)
from riskops.core.analytics.clv.summary import CustomerSummary, summarize

__all__ = [
    "BgNbd",
    "ClvFitError",
    "ClvInputError",
    "CustomerSummary",
    "FitFailure",
    "FitResult",
    "GammaGamma",
    "ParetoNbd",
    "SimulatedCustomers",
    "TransactionModel",
    "customer_lifetime_value",
    "fit_bgnbd",
    "fit_gammagamma",
    "fit_paretonbd",
    "simulate_bgnbd",
    "simulate_paretonbd",
    "simulate_spend",
    "summarize",
]
