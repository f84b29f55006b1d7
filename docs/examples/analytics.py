"""The example of docs/analytics.md on a generated order export: RFM segments and lifetime value.

python docs/examples/analytics.py
"""

from __future__ import annotations

import os
import random
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from riskops.services.analytics.clv import clv
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import OrderColumns
from riskops.services.analytics.rfm import rfm


def write_orders(path: Path, customers: int = 400, seed: int = 3) -> None:
    """Customers buy at their own pace; after each purchase some leave for good."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1)
    lines = ["invoice,customer,when,total"]
    n = 0
    for c in range(customers):
        day, rate, leave = rng.uniform(0, 120), rng.gammavariate(1.0, 0.05), rng.betavariate(1, 4)
        spend = rng.lognormvariate(3.5, 0.4)
        while day < 300:
            n += 1
            when = start + timedelta(days=day)
            lines.append(f"I{n},{c},{when:%Y-%m-%d %H:%M:%S},{spend * rng.uniform(0.7, 1.3):.2f}")
            if rng.random() < leave:
                break
            day += rng.expovariate(rate)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    os.chdir(tempfile.mkdtemp(prefix="riskops-analytics-example-"))
    write_orders(Path("orders.csv"))

    roles = OrderColumns(
        customer_id="customer", ordered_at="when", amount="total", order_id="invoice"
    )
    with AnalyticsData.from_orders_file(Path("orders.csv"), roles) as data:
        segments = rfm(data)
        for row in segments.segments:
            print(row.name_en, row.customers, row.benefit)
        value = clv(data, horizon_days=180)
        print(value.purchases.params, value.customers.slice(0, 5).to_pylist())


if __name__ == "__main__":
    main()
