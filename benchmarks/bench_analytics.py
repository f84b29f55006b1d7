"""RFM + BG/NBD + Gamma-Gamma on an order export of N orders from M customers (default 10M /
1M): the time of each stage and the peak resident memory.

    python benchmarks/bench_analytics.py [--orders 10000000] [--customers 1000000]

The export is synthetic (seeded): customers buy at their own rate, some stop, spend is
log-normal; it is written once to a Parquet file under /tmp and read back as a shop's export
would be, through the column roles."""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from riskops.services.analytics.clv import clv  # noqa: E402
from riskops.services.analytics.data import AnalyticsData  # noqa: E402
from riskops.services.analytics.inputs import OrderColumns  # noqa: E402
from riskops.services.analytics.rfm import rfm  # noqa: E402

START = np.datetime64("2024-01-01T00:00:00", "us")
DAYS = 730


def make_export(path: Path, n_orders: int, n_customers: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    weights = rng.gamma(0.6, 1.0, n_customers)
    per_customer = rng.multinomial(n_orders - n_customers, weights / weights.sum()) + 1
    customer = np.repeat(np.arange(n_customers, dtype=np.int64), per_customer)
    first = rng.uniform(0, DAYS * 0.8, n_customers)
    life = rng.exponential(DAYS * 0.6, n_customers)
    end = np.minimum(first + life, DAYS)
    day = first[customer] + rng.uniform(0, 1, len(customer)) * (end - first)[customer]
    day[np.r_[0, np.cumsum(per_customer)[:-1]]] = first  # each customer's first order
    at = START + (day * 86_400e6).astype("timedelta64[us]")
    spend = rng.lognormal(3.2, 0.4, n_customers)
    amount = np.round(spend[customer] * rng.lognormal(0, 0.3, len(customer)), 2)
    table = pa.table(
        {
            "order_no": np.arange(len(customer), dtype=np.int64),
            "customer": customer,
            "ordered_at": at,
            "total": amount,
        }
    )
    pq.write_table(table, path, row_group_size=1_000_000)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    path = Path(f"/tmp/riskops-bench-orders-{args.orders}-{args.customers}-{args.seed}.parquet")
    if not path.exists():
        t = time.perf_counter()
        make_export(path, args.orders, args.customers, args.seed)
        print(f"wrote {path} in {time.perf_counter() - t:.1f} s (not timed below)", flush=True)
    columns = OrderColumns(
        customer_id="customer", ordered_at="ordered_at", amount="total", order_id="order_no"
    )
    times: dict[str, float] = {}
    start = time.perf_counter()
    with AnalyticsData.from_orders_file(path, columns) as data:
        times["load the export"] = time.perf_counter() - start
        print(f"loaded {data.report.orders:,} orders of {data.report.customers:,} customers")
        t = time.perf_counter()
        segments = rfm(data)
        times["RFM scores + segments"] = time.perf_counter() - t
        t = time.perf_counter()
        value = clv(data)
        times["BG/NBD + Gamma-Gamma (summary, fits, CLV)"] = time.perf_counter() - t
    total = time.perf_counter() - start
    print(f"\n{'stage':45s} {'seconds':>8s}")
    for stage, seconds in times.items():
        print(f"{stage:45s} {seconds:8.1f}")
    print(f"{'total':45s} {total:8.1f}   (target <= 30 s)")
    print(f"{'peak RSS':45s} {peak_mb():8.0f} MB (target <= 4,096 MB)")
    print(f"\nsegments: {sum(s.customers for s in segments.segments):,} customers scored")
    fit = value.purchases
    params = ", ".join(f"{k}={v:.4g}" for k, v in fit.params.items())
    print(f"BG/NBD: {params}; LL {fit.log_likelihood:,.1f}; converged {fit.converged}")
    if value.spend is not None:
        spend = ", ".join(f"{k}={v:.4g}" for k, v in value.spend.params.items())
        print(f"Gamma-Gamma: {spend}; {value.spend.n_customers:,} repeat buyers")


if __name__ == "__main__":
    main()
