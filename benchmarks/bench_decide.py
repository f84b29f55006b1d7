"""Decision speed, in process and over HTTP, on the embedded default.

In process: the pure evaluation (``riskops.core.decisions.engine.evaluate``) of a ruleset of
``--rules`` rules (the starter rules plus generated velocity / graph / event rules) on
prepared contexts - the per-core ceiling of the rule engine. Then the full service path
(``DecisionService.decide``: validate, features from the online state, lists, evaluate, record
the event and the decision) and ``POST /v1/decisions/order`` with concurrent clients.

    python benchmarks/bench_decide.py [--rules 100] [--decisions 2000] [--concurrency 16]

Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, create_key, percentile, riskops_env, server, table

FEATURES = ["orders", "order_amount", "failed_logins", "events", "devices", "coupon_claims"]
WINDOWS = ["1h", "24h", "7d"]


def ruleset_yaml(n: int, seed: int = 7) -> str:
    """The starter ruleset plus generated rules up to ``n``: each reads 1-3 features."""
    rng = random.Random(seed)
    base = (ROOT / "examples" / "rules_order.yaml").read_text(encoding="utf-8")
    lines = [base.rstrip(), ""]
    for i in range(max(0, n - 4)):
        parts = []
        for _ in range(rng.randint(1, 3)):
            kind = rng.random()
            if kind < 0.6:
                entity = rng.choice(["user", "device", "ip"])
                feature = f"velocity.{entity}.{rng.choice(FEATURES)}_{rng.choice(WINDOWS)}"
                parts.append(f"{feature} > {rng.randint(3, 50)}")
            elif kind < 0.8:
                parts.append(
                    f"graph.device.distinct_users_{rng.choice(WINDOWS)} >= {rng.randint(2, 6)}"
                )
            else:
                parts.append(f"event.amount > {rng.randint(100, 5000)}.0")
        lines += [
            f"  - id: gen_{i}",
            f"    when: {' && '.join(parts)}",
            f"    outcome: {rng.choice(['challenge', 'review'])}",
            f"    score: {rng.randint(1, 20)}",
        ]
    return "\n".join(lines) + "\n"


def order(i: int, at: datetime) -> dict[str, Any]:
    u = i % 500
    return {
        "event_id": f"bd-{i}-{time.time_ns()}",
        "type": "order.placed",
        "occurred_at": at.isoformat().replace("+00:00", "Z"),
        "market": "ID",
        "user_id": f"u{u}",
        "device": {"fingerprint": f"dev-{u % 400}"},
        "ip": f"10.1.{u % 200}.{u % 250 + 1}",
        "payload": {
            "order_id": f"o-{i}",
            "items": [{"sku": "s1", "merchant_id": "m1", "price": 20.0 + i % 300, "qty": 1}],
            "currency": "USD",
            "payment_method": "cod" if i % 3 else "card",
            "payment_instrument": f"tok-{u}",
        },
    }


def bench_evaluate(args: argparse.Namespace) -> list[tuple[str, str]]:
    from riskops.core.decisions.engine import evaluate
    from riskops.core.decisions.ruleset import load_ruleset

    ruleset = load_ruleset(ruleset_yaml(args.rules))
    rng = random.Random(3)
    counts, weights = [0, 1, 2, 3, 5, 8, 13, 30], [50, 20, 10, 8, 5, 4, 2, 1]

    def value(name: str) -> float | int:
        if name.endswith("amount") or "amount_" in name:
            return round(rng.lognormvariate(3.5, 1.2), 2)
        return rng.choices(counts, weights)[0]

    contexts = [
        {f: value(f) for f in ruleset.fields}
        | {"event.payment_method": rng.choice(["cod", "card"]), "device.fingerprint": "d"}
        for _ in range(1000)
    ]
    hits = sum(len(evaluate(ruleset, c, trace=False).reasons) for c in contexts) / len(contexts)
    n = args.decisions * 5
    rates = {}
    for traced in (False, True):
        t0 = time.perf_counter()
        for i in range(n):
            evaluate(ruleset, contexts[i % 1000], trace=traced)
        rates[traced] = n / (time.perf_counter() - t0)
    return [
        ("rules (live)", f"{len(ruleset.live())}"),
        ("features read", f"{len(ruleset.fields)}"),
        ("rules hit per decision (typical traffic)", f"{hits:.1f}"),
        ("evaluate(): decisions/s on one core (as served)", f"{rates[False]:,.0f}"),
        ("evaluate(trace=True): decisions/s (as replayed)", f"{rates[True]:,.0f}"),
    ]


async def _post(url: str, key: str, bodies: list[dict[str, Any]], concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue = list(reversed(bodies))
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as c:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                t = time.perf_counter()
                r = await c.post("/v1/decisions/order", json=body)
                latencies.append(time.perf_counter() - t)
                if r.status_code != 200:
                    raise RuntimeError(r.text)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def bench_http(args: argparse.Namespace, work: Path) -> list[tuple[str, str]]:
    env = riskops_env(work / "data")
    key = create_key(env)
    rules = work / "rules.yaml"
    rules.write_text(ruleset_yaml(args.rules), encoding="utf-8")
    import subprocess

    subprocess.run(
        [
            sys.executable,
            "-m",
            "riskops.cli.main",
            "rules",
            "push",
            str(rules),
            "-a",
            "bench",
            "--activate",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    start = datetime.now(UTC) - timedelta(minutes=30)
    bodies = [order(i, start + timedelta(milliseconds=i)) for i in range(args.decisions)]
    with server(env) as url:
        asyncio.run(_post(url, key, bodies[:200], args.concurrency))  # warm-up
        t0 = time.perf_counter()
        lat = asyncio.run(_post(url, key, bodies[200:], args.concurrency))
        elapsed = time.perf_counter() - t0
    n = len(bodies) - 200
    return [
        (f"HTTP decisions/s ({args.concurrency} clients, Python client)", f"{n / elapsed:,.0f}"),
        (
            "HTTP p50 / p99 (ms)",
            f"{percentile(lat, 50) * 1000:.1f} / {percentile(lat, 99) * 1000:.1f}",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    rows = bench_evaluate(args)
    with tempfile.TemporaryDirectory() as tmp:
        rows += bench_http(args, Path(tmp))
    table(f"order checkpoint, {args.rules} rules, embedded default", rows)


if __name__ == "__main__":
    main()
