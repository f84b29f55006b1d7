"""The published CDNOW figures (2,357 customers, weeks 1-39 calibration), reproduced from the
raw transactions of the sample with our summary and fits:

- BG/NBD (Fader, Hardie & Lee 2005): r = 0.243, α = 4.414, a = 0.793, b = 2.426, LL −9582.4;
- Pareto/NBD (Fader & Hardie 2005 note): r = 0.553, α = 10.578, s = 0.606, β = 11.669,
  LL −9595.0;
- Gamma-Gamma on the 946 repeat buyers (Fader, Hardie & Lee 2005, "RFM and CLV"):
  p = 6.25, q = 3.74, γ = 15.44.

Each published figure is asserted to its printed rounding (half a unit in the last digit, plus
a hair for the optimiser)."""

from __future__ import annotations

import numpy as np
import pytest

from riskops.core.analytics.clv import (
    BgNbd,
    CustomerSummary,
    FitResult,
    GammaGamma,
    ParetoNbd,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gammagamma,
    fit_paretonbd,
    summarize,
)
from tests import cdnow

BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
BGNBD_LL = -9582.4
PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
PARETO_LL = -9595.0
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _published(value: float) -> float:
    """Half a unit in the last printed decimal of ``value``, plus 10 %."""
    text = repr(value)
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.55 * 10.0**-decimals


def assert_published(fit: FitResult[object], params: dict[str, float], ll: float | None) -> None:
    for name, published in params.items():
        ours = fit.params[name]
        assert abs(ours - published) <= _published(published), f"{name}: {ours} vs {published}"
    if ll is not None:
        assert abs(fit.log_likelihood - ll) <= _published(ll), fit.log_likelihood


@pytest.fixture(scope="module")
def calibration() -> CustomerSummary:
    t = cdnow.transactions()
    return summarize(
        t.customer_id, t.date, t.amount, observation_end=cdnow.CALIBRATION_END, unit="weeks"
    )


@pytest.fixture(scope="module")
def through_holdout() -> CustomerSummary:
    t = cdnow.transactions()
    return summarize(t.customer_id, t.date, t.amount, observation_end=cdnow.HOLDOUT_END)


@pytest.fixture(scope="module")
def bgnbd(calibration: CustomerSummary) -> FitResult[BgNbd]:
    return fit_bgnbd(calibration.frequency, calibration.recency, calibration.T)


@pytest.fixture(scope="module")
def pareto(calibration: CustomerSummary) -> FitResult[ParetoNbd]:
    return fit_paretonbd(calibration.frequency, calibration.recency, calibration.T)


@pytest.fixture(scope="module")
def gamma_gamma(calibration: CustomerSummary) -> FitResult[GammaGamma]:
    return fit_gammagamma(calibration.frequency, calibration.monetary_value)


def test_summary_of_the_raw_sample_reproduces_the_published_rows(
    calibration: CustomerSummary,
) -> None:
    """Distinct purchase days, calibration end 1997-09-30 inclusive, weeks = days / 7; the
    csv files round to 2 decimals."""
    rows = cdnow.summary_csv("cdnow_customers_summary.csv")
    spend = cdnow.summary_csv("cdnow_customers_summary_with_transactions.csv")
    assert calibration.n_customers == 2357
    np.testing.assert_array_equal(calibration.customer_id, rows["ID"].astype(int))
    np.testing.assert_array_equal(calibration.frequency, rows["frequency"])
    np.testing.assert_array_equal(calibration.frequency, spend["x"])
    for ours, published in [
        (calibration.recency, rows["recency"]),
        (calibration.T, rows["T"]),
        (calibration.recency, spend["t_x"]),
        (calibration.monetary_value, spend["zbar"]),
    ]:
        assert np.abs(ours - published).max() <= 0.005 + 1e-9
    assert int(calibration.frequency.sum()) == 2457  # repeat purchases in weeks 1-39
    assert int((calibration.frequency > 0).sum()) == 946
    # the sample's eight $0.00 lines are each the only line of a customer of the cohort
    assert calibration.n_nonpositive_lines == 8
    assert calibration.n_customers_without_purchase == 0


def test_bgnbd_reproduces_the_published_fit(bgnbd: FitResult[BgNbd]) -> None:
    assert bgnbd.model_name == "BG/NBD"
    assert bgnbd.n_customers == 2357
    assert bgnbd.converged
    assert_published(bgnbd, BGNBD, BGNBD_LL)  # type: ignore[arg-type]


def test_paretonbd_reproduces_the_published_fit(pareto: FitResult[ParetoNbd]) -> None:
    assert_published(pareto, PARETO, PARETO_LL)  # type: ignore[arg-type]


def test_gammagamma_reproduces_the_published_fit(gamma_gamma: FitResult[GammaGamma]) -> None:
    assert gamma_gamma.n_customers == 946
    assert_published(gamma_gamma, GAMMA_GAMMA, None)  # type: ignore[arg-type]
    assert gamma_gamma.warnings == ()  # corr(x, m) is about 0.11 here


def test_fits_on_the_published_csv_agree() -> None:
    """The csv's 2-decimal recency and T give the same figures (β within 0.001)."""
    rows = cdnow.summary_csv("cdnow_customers_summary.csv")
    fit = fit_bgnbd(rows["frequency"], rows["recency"], rows["T"])
    assert_published(fit, BGNBD, BGNBD_LL)  # type: ignore[arg-type]
    pareto = fit_paretonbd(rows["frequency"], rows["recency"], rows["T"])
    for name, published in PARETO.items():
        assert pareto.params[name] == pytest.approx(published, abs=1.5e-3)


def test_holdout_forecasts_track_the_actual_purchases(
    calibration: CustomerSummary,
    through_holdout: CustomerSummary,
    bgnbd: FitResult[BgNbd],
    pareto: FitResult[ParetoNbd],
) -> None:
    """Weeks 40-78 (to 1998-06-30): cumulative repeat purchases of the cohort (the papers'
    tracking plots) within 5 % at week 78, and the sum of the conditional expectations over
    the 39 holdout weeks within 15 % of the 1,882 repeat purchase days that happened."""
    holdout = through_holdout.frequency - calibration.frequency
    assert int(holdout.sum()) == 1882
    cumulative = int(through_holdout.frequency.sum())
    x, t_x, T = calibration.frequency, calibration.recency, calibration.T
    for fit in (bgnbd, pareto):
        model = fit.model
        expected_cumulative = model.expected_purchases(through_holdout.T).sum()
        assert expected_cumulative == pytest.approx(cumulative, rel=0.05)
        expected_holdout = model.conditional_expected_purchases(39, x, t_x, T)
        assert expected_holdout.sum() == pytest.approx(holdout.sum(), rel=0.15)
        # customers with more calibration purchases buy more in the holdout, and the model
        # says so too
        light, heavy = x <= 1, x >= 3
        assert holdout[heavy].mean() > holdout[light].mean()
        assert expected_holdout[heavy].mean() > expected_holdout[light].mean()


def test_predictions_on_cdnow_are_sane(
    calibration: CustomerSummary,
    bgnbd: FitResult[BgNbd],
    pareto: FitResult[ParetoNbd],
    gamma_gamma: FitResult[GammaGamma],
) -> None:
    x, t_x, T = calibration.frequency, calibration.recency, calibration.T
    for fit in (bgnbd, pareto):
        alive = fit.model.probability_alive(x, t_x, T)
        assert ((alive >= 0) & (alive <= 1)).all()
        ahead = np.array(
            [fit.model.conditional_expected_purchases(h, x, t_x, T) for h in (13, 26, 52)]
        )
        assert (ahead >= 0).all()
        assert (np.diff(ahead, axis=0) > 0).all()
    value = customer_lifetime_value(
        bgnbd.model, gamma_gamma.model, x, t_x, T, calibration.monetary_value, time_unit="weeks"
    )
    assert np.isfinite(value).all()
    assert (value > 0).all()
    assert value[x >= 3].mean() > value[x == 0].mean()
    mean_spend = gamma_gamma.model.mean_spend()
    assert mean_spend == pytest.approx(6.25 * 15.44 / 2.74, rel=0.01)
