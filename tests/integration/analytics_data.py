"""Small hand-made analytics databases, and the shared Online Retail file (skipped when absent)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import OrderColumns
from tests.conftest import DATA_DIR

T0 = datetime(2026, 1, 1)
RETAIL = DATA_DIR / "online_retail" / "online_retail_whitehorse101.parquet"
RETAIL_COLUMNS = OrderColumns(
    customer_id="CustomerID",
    ordered_at="InvoiceDate",
    quantity="Quantity",
    unit_price="UnitPrice",
    order_id="InvoiceNo",
    market="Country",
    default_currency="GBP",
)


def orders(rows: Iterable[tuple[str, str, float, float]]) -> pa.Table:
    """(order id, user id, days after T0, amount in USD) rows as an orders table."""
    rows = list(rows)
    return pa.table(
        {
            "order_id": [r[0] for r in rows],
            "user_id": [r[1] for r in rows],
            "ts": [T0 + timedelta(days=r[2]) for r in rows],
            "amount": [r[3] for r in rows],
            "currency": ["USD"] * len(rows),
            "amount_usd": [r[3] for r in rows],
        }
    )


def labels(rows: Iterable[tuple[str, str, str]]) -> pa.Table:
    rows = list(rows)
    return pa.table(
        {
            "entity_type": [r[0] for r in rows],
            "entity_id": [r[1] for r in rows],
            "label": [r[2] for r in rows],
        }
    )


def retail() -> AnalyticsData:
    if not RETAIL.exists():
        pytest.skip(f"the shared Online Retail file is not here ({RETAIL})")
    return AnalyticsData.from_orders_file(RETAIL, RETAIL_COLUMNS)


def retail_path() -> Path:
    if not RETAIL.exists():
        pytest.skip(f"the shared Online Retail file is not here ({RETAIL})")
    return RETAIL
