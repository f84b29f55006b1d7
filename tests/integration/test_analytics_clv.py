"""CLV on an order export: the models fit, and value and expected purchases share one horizon."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from riskops.services.analytics.clv import clv
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError, OrderColumns

ROOT = Path(__file__).resolve().parents[2]
ROLES = OrderColumns(customer_id="customer", ordered_at="when", amount="total", order_id="invoice")


@pytest.fixture
def export(tmp_path: Path) -> Path:
    example = runpy.run_path(str(ROOT / "docs" / "examples" / "analytics.py"))
    path = tmp_path / "orders.csv"
    example["write_orders"](path)
    return path


def test_value_and_purchases_over_the_same_whole_months(export: Path) -> None:
    with AnalyticsData.from_orders_file(export, ROLES) as data:
        month = clv(data, horizon_days=30)
        odd = clv(data, horizon_days=45)  # rounds to one month, like the value
        year = clv(data, horizon_days=365)
    assert month.horizon_days == odd.horizon_days == 30
    assert (
        month.customers.column("clv_usd").to_pylist() == odd.customers.column("clv_usd").to_pylist()
    )
    assert (
        month.customers.column("expected_purchases").to_pylist()
        == odd.customers.column("expected_purchases").to_pylist()
    )
    assert year.horizon_days == 365
    short = month.customers.to_pylist()
    long = {r["user_id"]: r for r in year.customers.to_pylist()}
    assert all(long[r["user_id"]]["expected_purchases"] >= r["expected_purchases"] for r in short)
    assert all(long[r["user_id"]]["clv_usd"] >= r["clv_usd"] for r in short)
    assert all(0 <= r["p_alive"] <= 1 for r in short)


def test_bad_options_are_named(export: Path) -> None:
    with AnalyticsData.from_orders_file(export, ROLES) as data:
        for kwargs, field in (
            ({"model": "gbm"}, "model"),
            ({"horizon_days": 0}, "horizon_days"),
            ({"monthly_discount_rate": 1.5}, "monthly_discount_rate"),
        ):
            with pytest.raises(AnalyticsInputError) as err:
                clv(data, **kwargs)  # type: ignore[arg-type]
            assert err.value.field == field
