"""CLV models on synthetic data: the summary's conventions and refusals, the likelihoods against
direct numerical integration, parameter recovery from data simulated with a seeded generator,
expectations against simulation, and the refusal of ill-posed fits."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy import integrate, special

from riskops.core.analytics.clv import (
    BgNbd,
    ClvFitError,
    ClvInputError,
    FitFailure,
    GammaGamma,
    ParetoNbd,
    customer_lifetime_value,
    fit_bgnbd,
    fit_gammagamma,
    fit_paretonbd,
    simulate_bgnbd,
    simulate_paretonbd,
    simulate_spend,
    summarize,
)
from riskops.core.analytics.clv.bgnbd import _loglik as bgnbd_loglik
from riskops.core.analytics.clv.data import Rft
from riskops.core.analytics.clv.gammagamma import _loglik as gammagamma_loglik
from riskops.core.analytics.clv.gammagamma import _Spend

Arr = npt.NDArray[np.float64]
BG = BgNbd(r=0.5, alpha=3.0, a=0.8, b=2.5)
PN = ParetoNbd(r=0.6, alpha=8.0, s=0.7, beta=12.0)
GG = GammaGamma(p=6.0, q=4.0, gamma=15.0)
UTC8 = dt.timezone(dt.timedelta(hours=8))


# --- summary -------------------------------------------------------------------------------


def test_summary_follows_the_literature_conventions() -> None:
    ids = ["a", "a", "a", "a", "a", "a", "a", "b", "c", "d"]
    days = [0, 0.5, 3, 3.9, 10, 12, 20, 5, 2, 4]  # numbers are days; fractions times of day
    amounts = [10, 5, 20, 4, -5, 0, 30, 0, 7, -3]
    s = summarize(ids, days, amounts, observation_end=15, unit="days")
    assert list(s.customer_id) == ["a", "b", "c"]  # d: only a return, no purchase
    # a: day 0 first; day 3 (two lines) is one repeat period; the return (day 10) and the
    # free item (day 12) are no purchases; day 20 is after the end
    assert list(s.frequency) == [1, 0, 0]
    assert list(s.recency) == [3.0, 0.0, 0.0]
    assert list(s.T) == [15.0, 10.0, 13.0]
    assert list(s.monetary_value) == [24.0, 0.0, 0.0]
    assert (s.n_lines, s.n_lines_after_end, s.n_nonpositive_lines) == (10, 1, 4)
    assert s.n_customers_without_purchase == 1
    weeks = summarize(ids, days, amounts, observation_end=15, unit="weeks")
    np.testing.assert_allclose(weeks.T, s.T / 7)
    np.testing.assert_allclose(weeks.recency, s.recency / 7)


def test_summary_accepts_dates_datetimes_strings_and_datetime64() -> None:
    base = dt.date(2024, 1, 1)
    dates = [base, base + dt.timedelta(days=2), base + dt.timedelta(days=9)]
    expected = summarize([1, 1, 1], dates, [1, 2, 3], observation_end=dt.date(2024, 1, 15))
    for times, end in [
        ([d.isoformat() for d in dates], "2024-01-15"),
        (np.array(dates, dtype="datetime64[D]"), np.datetime64("2024-01-15")),
        ([dt.datetime(d.year, d.month, d.day, 23, 59) for d in dates], dt.datetime(2024, 1, 15)),
        (  # aware: UTC days (23:30 at UTC+8 is 15:30 UTC the same day)
            [dt.datetime(d.year, d.month, d.day, 23, 30, tzinfo=UTC8) for d in dates],
            dt.datetime(2024, 1, 15, tzinfo=dt.UTC),
        ),
    ]:
        s = summarize([1, 1, 1], times, [1, 2, 3], observation_end=end)
        assert s.frequency.tolist() == expected.frequency.tolist() == [2]
        np.testing.assert_allclose(s.recency, [9 / 7])
        np.testing.assert_allclose(s.T, [14 / 7])
        np.testing.assert_allclose(s.monetary_value, [2.5])


def test_summary_of_one_customer_and_of_identical_timestamps() -> None:
    one = summarize([7], ["2024-03-01"], [9.5], observation_end="2024-03-31", unit="days")
    assert one.n_customers == 1
    assert one.T.tolist() == [30.0]
    assert one.frequency.tolist() == [0]
    ids = np.arange(80) % 40
    same = summarize(ids, ["2024-03-31"] * 80, np.ones(80), observation_end="2024-03-31")
    assert same.n_customers == 40
    assert (same.T == 0).all()
    assert (same.frequency == 0).all()
    with pytest.raises(ClvFitError) as err:
        fit_bgnbd(same.frequency, same.recency, same.T)
    assert err.value.reason is FitFailure.NO_OBSERVATION_TIME


@pytest.mark.parametrize(
    ("ids", "times", "amounts", "field"),
    [
        ([], [], [], "customer_id"),
        ([1, 2], [0, 1], [1.0], "amount"),
        ([1, 2], [0], [1.0, 2.0], "time"),
        ([1, 2], [0, 1], [1.0, math.nan], "amount"),
        ([1, 2], [0, 1], [1.0, math.inf], "amount"),
        ([1, 2], [0, math.nan], [1.0, 2.0], "time"),
        ([1, 2], ["2024-01-01", "NaT"], [1.0, 2.0], "time"),
        ([1, 2], ["2024-01-01", "yesterday"], [1.0, 2.0], "time"),
        ([1.0, math.nan], [0, 1], [1.0, 2.0], "customer_id"),
        (np.array([1, None], dtype=object), [0, 1], [1.0, 2.0], "customer_id"),
        (np.array([1, "x"], dtype=object), [0, 1], [1.0, 2.0], "customer_id"),
        ([1, 2], [0, 1], ["1", "ten"], "amount"),
    ],
)
def test_summary_refuses_bad_input_naming_the_field(
    ids: object, times: object, amounts: object, field: str
) -> None:
    with pytest.raises(ClvInputError) as err:
        summarize(ids, times, amounts, observation_end=10, unit="days")  # type: ignore[arg-type]
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")


def test_summary_refuses_an_unknown_unit_and_mixed_kinds_of_time() -> None:
    with pytest.raises(ClvInputError, match="unit"):
        summarize([1], [0], [1.0], observation_end=1, unit="months")  # type: ignore[arg-type]
    with pytest.raises(ClvInputError) as err:
        summarize([1], [3.0], [1.0], observation_end="2024-01-01")
    assert err.value.field == "observation_end"


# --- likelihoods against their definitions ---------------------------------------------------


def _bgnbd_direct(m: BgNbd, x: float, t_x: float, T: float) -> float:
    """The BG/NBD likelihood written out with plain (non-log) special functions."""
    lead = special.gamma(m.r + x) * m.alpha**m.r / special.gamma(m.r)
    alive = special.beta(m.a, m.b + x) / special.beta(m.a, m.b) / (m.alpha + T) ** (m.r + x)
    dead = 0.0
    if x > 0:
        dead = special.beta(m.a + 1, m.b + x - 1) / special.beta(m.a, m.b)
        dead /= (m.alpha + t_x) ** (m.r + x)
    return float(math.log(lead * (alive + dead)))


def _paretonbd_direct(m: ParetoNbd, x: float, t_x: float, T: float) -> float:
    """The Pareto/NBD likelihood with the dropout integral done by quadrature."""

    def integrand(tau: float) -> float:
        return float((m.alpha + tau) ** -(m.r + x) * (m.beta + tau) ** -(m.s + 1))

    dead = integrate.quad(integrand, t_x, T, epsabs=0, epsrel=1e-12)[0]
    alive = (m.alpha + T) ** -(m.r + x) * (m.beta + T) ** -m.s
    lead = special.gammaln(m.r + x) - special.gammaln(m.r) + m.r * math.log(m.alpha)
    return float(lead + m.s * math.log(m.beta) + math.log(alive + m.s * dead))


CASES = [(0, 0.0, 30.0), (1, 2.5, 30.0), (4, 29.0, 30.0), (12, 15.0, 38.9), (2, 7.0, 7.0)]


def test_bgnbd_log_likelihood_matches_the_closed_form() -> None:
    x, t_x, T = (np.array(c, dtype=float) for c in zip(*CASES, strict=True))
    ours = BG.log_likelihood(x, t_x, T)
    direct = [_bgnbd_direct(BG, *c) for c in CASES]
    np.testing.assert_allclose(ours, direct, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("model", [PN, ParetoNbd(0.6, 14.0, 0.7, 3.0), ParetoNbd(2, 5, 1, 5)])
def test_paretonbd_log_likelihood_matches_quadrature(model: ParetoNbd) -> None:
    """Both branches (α < β, α > β) and α = β."""
    x, t_x, T = (np.array(c, dtype=float) for c in zip(*CASES, strict=True))
    ours = model.log_likelihood(x, t_x, T)
    direct = [_paretonbd_direct(model, *c) for c in CASES]
    np.testing.assert_allclose(ours, direct, rtol=1e-9, atol=1e-10)


def test_gammagamma_log_likelihood_integrates_to_one() -> None:
    for x in (1, 3, 10):
        density = lambda m, x=x: math.exp(GG.log_likelihood([x], [m])[0])  # noqa: E731
        total = integrate.quad(density, 0, math.inf, epsrel=1e-10)[0]
        assert total == pytest.approx(1.0, abs=1e-8)


def _numeric_gradient(f: object, theta: Arr, h: float = 1e-6) -> Arr:
    fn = f  # callable: theta -> float
    return np.array([(fn(theta + e) - fn(theta - e)) / (2 * h) for e in np.eye(len(theta)) * h])  # type: ignore[operator]


def test_analytic_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(3)
    c = simulate_bgnbd(rng, BG, 300, np.round(rng.uniform(5, 40, 300)))
    theta = np.log([0.4, 2.0, 1.1, 3.0])
    # one row per customer, and rows merged with weights (x = 0 rows first)
    doubled = [np.r_[v, v[:100]] for v in (c.frequency, c.recency, c.T)]
    for data in (Rft.of(*doubled), Rft.compressed(*doubled)):
        grad = bgnbd_loglik(np.exp(theta), data, grad=True)[1]

        def total(t: Arr, data: Rft = data) -> float:
            return float(bgnbd_loglik(np.exp(t), data, grad=False)[0] @ data.weight)

        np.testing.assert_allclose(grad, _numeric_gradient(total, theta), rtol=1e-6)
        assert total(theta) == pytest.approx(
            BG.__class__(*np.exp(theta)).log_likelihood(*doubled).sum()
        )
    assert Rft.compressed(*doubled).n_zero > 0
    rep = c.frequency > 0
    spend = _Spend.of(c.frequency[rep], simulate_spend(rng, GG, c.frequency)[rep])
    theta = np.log([3.0, 2.0, 10.0])
    grad = gammagamma_loglik(np.exp(theta), spend, grad=True)[1].sum(axis=1)
    num = _numeric_gradient(
        lambda t: gammagamma_loglik(np.exp(t), spend, grad=False)[0].sum(), theta
    )
    np.testing.assert_allclose(grad, num, rtol=1e-6)


def test_heavy_buyers_do_not_overflow() -> None:
    x, t_x, T = np.array([500.0, 2000.0]), np.array([51.9, 10.0]), np.array([52.0, 52.0])
    for model in (BG, PN):
        assert np.isfinite(model.log_likelihood(x, t_x, T)).all()
        alive = model.probability_alive(x, t_x, T)
        assert ((alive >= 0) & (alive <= 1)).all()
        assert alive[1] < 1e-6 < alive[0]  # 2000 purchases then 42 silent weeks: gone
        ahead = model.conditional_expected_purchases(10, x, t_x, T)
        assert np.isfinite(ahead).all()
        assert ahead[0] > 10


# --- recovery of known parameters -----------------------------------------------------------


def _within(fitted: dict[str, float], true: dict[str, float], rtol: float) -> None:
    for name, value in true.items():
        assert fitted[name] == pytest.approx(value, rel=rtol), name


def test_bgnbd_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(20240601)
    c = simulate_bgnbd(rng, BG, 20_000, rng.uniform(10, 60, 20_000))
    fit = fit_bgnbd(c.frequency, c.recency, c.T)
    _within(dict(fit.params), {"r": 0.5, "alpha": 3.0, "a": 0.8, "b": 2.5}, rtol=0.12)
    assert fit.converged
    assert fit.n_customers == 20_000
    assert fit.iterations > 0
    assert fit.log_likelihood >= BG.log_likelihood(c.frequency, c.recency, c.T).sum()


def test_paretonbd_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(20240602)
    c = simulate_paretonbd(rng, PN, 8_000, np.round(rng.uniform(10, 60, 8_000)))
    fit = fit_paretonbd(c.frequency, c.recency, c.T)
    _within(dict(fit.params), {"r": 0.6, "alpha": 8.0, "s": 0.7, "beta": 12.0}, rtol=0.2)
    assert fit.log_likelihood >= PN.log_likelihood(c.frequency, c.recency, c.T).sum()


def test_gammagamma_recovers_simulated_parameters_and_stays_quiet() -> None:
    rng = np.random.default_rng(20240603)
    c = simulate_bgnbd(rng, BG, 30_000, 52.0)
    spend = simulate_spend(rng, GG, c.frequency)
    fit = fit_gammagamma(c.frequency, spend)
    assert fit.n_customers == int((c.frequency > 0).sum())
    _within(dict(fit.params), {"p": 6.0, "q": 4.0, "gamma": 15.0}, rtol=0.15)
    assert fit.warnings == ()


def test_fits_do_not_depend_on_units() -> None:
    """Days instead of weeks: α scales by 7, the rest and the likelihood's maximiser stay."""
    rng = np.random.default_rng(5)
    c = simulate_bgnbd(rng, BG, 3_000, rng.uniform(10, 60, 3_000))
    weeks = fit_bgnbd(c.frequency, c.recency, c.T)
    days = fit_bgnbd(c.frequency, c.recency * 7, c.T * 7)
    assert days.params["alpha"] == pytest.approx(7 * weeks.params["alpha"], rel=1e-4)
    for name in ("r", "a", "b"):
        assert days.params[name] == pytest.approx(weeks.params[name], rel=1e-4)
    cents = fit_gammagamma(c.frequency, simulate_spend(rng, GG, c.frequency) * 100)
    assert cents.params["gamma"] > 100


# --- expectations ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", [BG, PN])
def test_expected_purchases_match_simulation(model: BgNbd | ParetoNbd) -> None:
    rng = np.random.default_rng(11)
    for T in (5.0, 40.0):
        if isinstance(model, BgNbd):
            c = simulate_bgnbd(rng, model, 200_000, T)
        else:
            c = simulate_paretonbd(rng, model, 200_000, T)
        se = c.frequency.std() / math.sqrt(len(c.frequency))
        assert abs(c.frequency.mean() - model.expected_purchases(T)[0]) < 4 * se


def _two_periods(
    rng: np.random.Generator, model: BgNbd | ParetoNbd, n: int, T: float, ahead: float
) -> tuple[Arr, Arr, Arr, Arr]:
    """Whole purchase histories over [0, T + ahead]: the calibration summary at T and the
    number of purchases in (T, T + ahead]."""
    end = T + ahead
    lam = rng.gamma(model.r, 1 / model.alpha, n)
    if isinstance(model, BgNbd):
        span = np.full(n, end)
        kept = rng.geometric(rng.beta(model.a, model.b, n))  # purchases before dropping out
    else:
        span = np.minimum(rng.exponential(1 / rng.gamma(model.s, 1 / model.beta, n)), end)
        kept = np.full(n, np.iinfo(np.int64).max)
    m = rng.poisson(lam * span)
    who = np.repeat(np.arange(n), m)
    when = rng.uniform(0, 1, len(who)) * span[who]
    order = np.lexsort((when, who))
    who, when = who[order], when[order]
    rank = np.arange(len(who)) - np.repeat(np.cumsum(m) - m, m)
    alive = rank < kept[who]
    cal = alive & (when <= T)
    x = np.bincount(who[cal], minlength=n).astype(float)
    t_x = np.zeros(n)
    np.maximum.at(t_x, who[cal], when[cal])
    later = np.bincount(who[alive & (when > T)], minlength=n).astype(float)
    return x, t_x, np.full(n, T), later


@pytest.mark.parametrize("model", [BG, PN])
def test_conditional_expectations_match_simulated_holdouts(model: BgNbd | ParetoNbd) -> None:
    rng = np.random.default_rng(12)
    x, t_x, T, later = _two_periods(rng, model, 100_000, 30.0, 20.0)
    pred = model.conditional_expected_purchases(20.0, x, t_x, T)
    for group in (x == 0, x == 1, (x >= 2) & (x < 5), x >= 5):
        se = later[group].std() / math.sqrt(group.sum())
        assert abs(later[group].mean() - pred[group].mean()) < 4 * se + 1e-3


@pytest.mark.parametrize("model", [BG, PN])
def test_probability_alive_and_conditional_expectations_are_sane(
    model: BgNbd | ParetoNbd,
) -> None:
    rng = np.random.default_rng(13)
    c = simulate_bgnbd(rng, BG, 2_000, rng.uniform(1, 60, 2_000))
    alive = model.probability_alive(c.frequency, c.recency, c.T)
    assert ((alive >= 0) & (alive <= 1)).all()
    horizons = [0.0, 1.0, 10.0, 52.0, 520.0]
    ahead = np.array(
        [model.conditional_expected_purchases(h, c.frequency, c.recency, c.T) for h in horizons]
    )
    assert (ahead[0] == 0).all()
    assert (ahead >= 0).all()
    assert (np.diff(ahead, axis=0) > 0).all()
    # a recent buyer is likelier alive than one silent since early on, same x and T
    recent, early = model.probability_alive([3, 3], [29.0, 3.0], [30.0, 30.0])
    assert recent > early


def test_bgnbd_probability_alive_is_one_without_repeat_purchases() -> None:
    assert BG.probability_alive([0, 0], [0, 0], [1.0, 100.0]).tolist() == [1.0, 1.0]


def test_expectations_are_continuous_through_their_removable_singularities() -> None:
    x, t_x, T = [0, 2, 7], [0.0, 5.0, 20.0], [30.0, 30.0, 30.0]
    for lo, mid, hi in [
        (BgNbd(0.5, 3, 1 - 1e-4, 2.5), BgNbd(0.5, 3, 1.0, 2.5), BgNbd(0.5, 3, 1 + 1e-4, 2.5)),
        (
            ParetoNbd(0.6, 8, 1 - 1e-6, 12),
            ParetoNbd(0.6, 8, 1.0, 12),
            ParetoNbd(0.6, 8, 1 + 1e-6, 12),
        ),
    ]:
        values = [m.conditional_expected_purchases(26.0, x, t_x, T) for m in (lo, mid, hi)]
        assert np.isfinite(values[1]).all()
        np.testing.assert_allclose(values[1], values[0], rtol=1e-3)
        np.testing.assert_allclose(values[1], values[2], rtol=1e-3)


def test_gammagamma_expected_profit_shrinks_towards_the_population_mean() -> None:
    mean = GG.mean_spend()
    assert mean == pytest.approx(6 * 15 / 3)
    profit = GG.conditional_expected_average_profit([0, 1, 50], [999.0, 100.0, 100.0])
    assert profit[0] == pytest.approx(mean)  # x = 0: the population mean, whatever m says
    assert mean < profit[1] < profit[2] < 100.0
    with pytest.raises(ValueError, match="infinite"):
        GammaGamma(2.0, 0.9, 10.0).conditional_expected_average_profit([1], [10.0])


def test_customer_lifetime_value_discounts_monthly_purchases() -> None:
    x, t_x, T, m = [0, 2, 6], [0.0, 20.0, 38.0], [39.0, 39.0, 39.0], [0.0, 30.0, 50.0]
    month = 365.25 / 12 / 7
    flat = customer_lifetime_value(BG, GG, x, t_x, T, m, time_unit="weeks", monthly_discount_rate=0)
    expected = GG.conditional_expected_average_profit(x, m) * BG.conditional_expected_purchases(
        12 * month, x, t_x, T
    )
    np.testing.assert_allclose(flat, expected, rtol=1e-12)
    discounted = customer_lifetime_value(BG, GG, x, t_x, T, m, time_unit="weeks")
    longer = customer_lifetime_value(BG, GG, x, t_x, T, m, time_unit="weeks", months=24)
    assert (discounted > 0).all()
    assert (discounted < flat).all()
    assert (longer > discounted).all()
    days = customer_lifetime_value(
        BG.__class__(BG.r, BG.alpha * 7, BG.a, BG.b),
        GG,
        x,
        np.array(t_x) * 7,
        np.array(T) * 7,
        m,
        time_unit="days",
    )
    np.testing.assert_allclose(days, discounted, rtol=1e-9)
    with pytest.raises(ValueError, match="time_unit"):
        customer_lifetime_value(BG, GG, x, t_x, T, m, time_unit="months")  # type: ignore[arg-type]


# --- ill-posed fits -------------------------------------------------------------------------


def _reason(fn: object, *args: object, **kwargs: object) -> FitFailure:
    with pytest.raises(ClvFitError) as err:
        fn(*args, **kwargs)  # type: ignore[operator]
    assert str(err.value).startswith(err.value.reason.value + ": ")
    return err.value.reason


@pytest.mark.parametrize("fit", [fit_bgnbd, fit_paretonbd])
def test_purchase_fits_refuse_ill_posed_data(fit: object) -> None:
    rng = np.random.default_rng(21)
    c = simulate_bgnbd(rng, BG, 500, rng.uniform(10, 60, 500))
    assert _reason(fit, c.frequency[:10], c.recency[:10], c.T[:10]) is FitFailure.TOO_FEW_CUSTOMERS
    zeros = np.zeros(500)
    assert _reason(fit, zeros, zeros, c.T) is FitFailure.NO_REPEAT_BUYERS
    assert _reason(fit, zeros, zeros, zeros) is FitFailure.NO_OBSERVATION_TIME
    no_time = _reason(fit, c.frequency, c.recency, c.T, max_iterations=2)
    assert no_time is FitFailure.NOT_CONVERGED


@pytest.mark.parametrize("fit", [fit_bgnbd, fit_paretonbd])
def test_purchase_fits_refuse_a_collapsed_dropout(fit: object) -> None:
    """Nobody ever leaves: heterogeneous Poisson buyers without dropout drive a (or s) to 0."""
    rng = np.random.default_rng(23)
    n = 1_000
    T = rng.uniform(20, 50, n)
    x = rng.poisson(rng.gamma(0.5, 1 / 3.0, n) * T).astype(float)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1), 0.0)
    assert _reason(fit, x, t_x, T) is FitFailure.PARAMETER_AT_BOUND


def test_gammagamma_refuses_ill_posed_data_and_warns_on_correlation() -> None:
    rng = np.random.default_rng(23)
    c = simulate_bgnbd(rng, BG, 4_000, 52.0)
    spend = simulate_spend(rng, GG, c.frequency)
    assert _reason(fit_gammagamma, np.zeros(100), np.zeros(100)) is FitFailure.NO_REPEAT_BUYERS
    few = np.r_[np.ones(5), np.zeros(95)]
    assert _reason(fit_gammagamma, few, few * 10) is FitFailure.TOO_FEW_CUSTOMERS
    flat = np.where(c.frequency > 0, 20.0, 0.0)  # every repeat buyer spends exactly 20
    assert _reason(fit_gammagamma, c.frequency, flat) is FitFailure.PARAMETER_AT_BOUND
    tilted = np.where(c.frequency > 0, spend * (1 + c.frequency), 0.0)  # spend grows with x
    fit = fit_gammagamma(c.frequency, tilted)
    assert len(fit.warnings) == 1
    assert "independence" in fit.warnings[0]


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "field"),
    [
        ([1, -1], [1.0, 0.0], [2.0, 2.0], "frequency"),
        ([1.5, 0], [1.0, 0.0], [2.0, 2.0], "frequency"),
        ([1, 0], [3.0, 0.0], [2.0, 2.0], "recency"),
        ([1, 0], [1.0, 0.5], [2.0, 2.0], "recency"),
        ([1, 0], [0.0, 0.0], [2.0, 2.0], "recency"),
        ([1, 0], [1.0, 0.0], [2.0, -2.0], "T"),
        ([1, 0], [1.0, math.nan], [2.0, 2.0], "recency"),
        ([1, 0, 2], [1.0, 0.0], [2.0, 2.0], "recency"),
        ([[1, 0]], [[1.0, 0.0]], [[2.0, 2.0]], "frequency"),
        (["a", 0], [1.0, 0.0], [2.0, 2.0], "frequency"),
    ],
)
def test_models_refuse_bad_input_naming_the_field(
    frequency: object, recency: object, T: object, field: str
) -> None:
    for call in (
        lambda: BG.probability_alive(frequency, recency, T),  # type: ignore[arg-type]
        lambda: PN.log_likelihood(frequency, recency, T),  # type: ignore[arg-type]
        lambda: fit_bgnbd(frequency, recency, T, min_customers=1),  # type: ignore[arg-type]
    ):
        with pytest.raises(ClvInputError) as err:
            call()
        assert err.value.field == field


def test_gammagamma_refuses_bad_spend() -> None:
    with pytest.raises(ClvInputError) as err:
        fit_gammagamma([1, 2, 0], [10.0, -1.0, 0.0])
    assert err.value.field == "monetary_value"
    with pytest.raises(ClvInputError) as err:
        GG.conditional_expected_average_profit([1, 2], [10.0])
    assert err.value.field == "monetary_value"


def test_model_parameters_must_be_positive() -> None:
    with pytest.raises(ValueError, match="alpha"):
        BgNbd(0.5, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="beta"):
        ParetoNbd(0.5, 1.0, 1.0, math.nan)
    with pytest.raises(ValueError, match="gamma"):
        GammaGamma(1.0, 2.0, -1.0)
