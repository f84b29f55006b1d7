"""Decision speed on the embedded default, in process and over HTTP.

In process: the pure evaluation (``riskops.core.decisions.engine.evaluate``) of a ruleset of
``--rules`` rules (the starter rules plus generated velocity / graph / event rules) on
prepared contexts - the per-core ceiling of the rule engine.

Over HTTP, measured with wrk (C, so the client takes little of the 2 cores): ``POST
/v1/decisions/order`` - validate, features from the online state, lists, rules, policy, and
the event and its decision durable in the log before the answer - beside a bare FastAPI
endpoint (``benchmarks/bare_app.py``: same server stack, parses the body, answers), both
with 1 and ``--workers`` processes, closed loop at each ``--connections`` and paced at an
offered load of ``--rate`` requests/s.

    python benchmarks/bench_decide.py [--rules 100] [--workers 2] [--rate 1000] [--no-http]

Needs `wrk` on PATH for the HTTP part (Debian: `apt-get install wrk`). Figures, not
assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    console,
    create_key,
    free_port,
    riskops_env,
    server,
    started,
    table,
    wrk,
)

LUA = ROOT / "benchmarks" / "wrk_decisions.lua"

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


def _bare_server(workers: int) -> contextlib.AbstractContextManager[str]:
    """The reference endpoint (``benchmarks/bare_app.py``) under uvicorn."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "benchmarks"), "bare_app:app"]
    cmd += ["--port", str(port), "--workers", str(workers), "--loop", "uvloop"]
    cmd += ["--http", "httptools", "--no-access-log", "--log-level", "warning"]
    return started(cmd, f"http://127.0.0.1:{port}", "/openapi.json")


def _push_rules(env: dict[str, str], path: Path) -> None:
    cmd = [sys.executable, "-m", "riskops.cli.main", "rules", "push", str(path)]
    subprocess.run([*cmd, "-a", "bench", "--activate"], env=env, check=True, capture_output=True)


def _measure(url: str, headers: list[str], args: argparse.Namespace) -> list[dict[str, float]]:
    """Closed loop at each connection count, then paced at the offered load."""
    wrk(url, LUA, 16, 3, headers)  # warm-up
    runs = []
    for c in (int(x) for x in args.connections.split(",")):
        runs.append({"connections": c, "offered": 0.0, **wrk(url, LUA, c, args.seconds, headers)})
    c = args.paced_connections
    pause = f"{1000 * c / args.rate:.3f}"
    got = wrk(url, LUA, c, args.seconds, headers, [pause])
    runs.append({"connections": c, "offered": float(args.rate), **got})
    return runs


def train_model(work: Path) -> Path:
    """An ``order_fraud`` champion trained on a scratch log of synthetic traffic (orders with a
    chargeback on one in 25), as a registry folder to copy into each server's data dir."""
    from datetime import UTC, datetime, timedelta

    from synth import events

    from riskops.config import Settings
    from riskops.services.models.registry import ModelRegistry
    from riskops.services.models.train import train
    from riskops.services.runtime import build_runtime

    settings = Settings(
        data_dir=work / "train",
        secret_key="bench-secret",
        database_url=None,
        state_backend="memory",
    )
    runtime = build_runtime(settings, with_state=False)
    rng = random.Random(5)
    start = datetime.now(UTC) - timedelta(days=3)
    batch: list[object] = []
    for e in events(60_000, seed=5, start=start, span_s=2 * 86_400, users=3000, prefix="m"):
        batch.append(e)
        if e["type"] == "order.placed" and rng.random() < 0.04:
            at = datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00"))
            batch.append({
                "event_id": f"{e['event_id']}-cb", "type": "chargeback.received",
                "occurred_at": (at + timedelta(hours=6)).isoformat().replace("+00:00", "Z"),
                "market": e["market"], "user_id": e["user_id"],
                "payload": {"order_id": e["payload"]["order_id"], "amount": 20.0,
                            "currency": "USD"},
            })  # fmt: skip
    try:
        for i in range(0, len(batch), 2000):
            runtime.ingest.ingest(batch[i : i + 2000])
        result = train(runtime.store, settings.resolved_secret(), model="order_fraud")
        registry = ModelRegistry(settings.data_dir)
        registry.promote("order_fraud", registry.register(result))
    finally:
        runtime.close()
    return settings.data_dir / "models"


def bench_http(args: argparse.Namespace, work: Path) -> None:
    """riskops and the bare endpoint, each with 1 and ``--workers`` processes, same run."""
    rows: list[tuple[str, ...]] = []
    ours: dict[tuple[int, int, float], float] = {}
    rules = work / "rules.yaml"
    rules.write_text(ruleset_yaml(args.rules), encoding="utf-8")
    models = None
    if args.model:
        with console.status("training the order_fraud champion the server will score with"):
            models = train_model(work)
    for workers in sorted({1, args.workers}):
        env = riskops_env(work / f"data{workers}")
        key = create_key(env)
        _push_rules(env, rules)
        if models is not None:
            shutil.copytree(models, work / f"data{workers}" / "models")
        headers = [f"Authorization: Bearer {key}", "Content-Type: application/json"]
        with server(env, workers=workers) as url:
            for r in _measure(url, headers, args):
                ours[(workers, int(r["connections"]), r["offered"])] = r["rate"]
                rows.append(_row("riskops", workers, r, None))
        with _bare_server(workers) as url:
            for r in _measure(url, [], args):
                mine = ours[(workers, int(r["connections"]), r["offered"])]
                rows.append(_row("bare FastAPI", workers, r, mine / r["rate"]))
    model = "and the order_fraud model" if args.model else "no model"
    t = Table(title=f"POST /v1/decisions/order, {args.rules} rules {model}, embedded default (wrk)")
    for name in ("endpoint", "processes", "load", "requests/s", "p50 ms", "p99 ms"):
        t.add_column(name, justify="left" if name in ("endpoint", "load") else "right")
    t.add_column("non-2xx", justify="right")
    t.add_column("riskops / bare", justify="right")
    for row in rows:
        t.add_row(*row)
    console.print(t)


def _row(name: str, workers: int, r: dict[str, float], ratio: float | None) -> tuple[str, ...]:
    c = int(r["connections"])
    load = f"{c} conns, " + (f"paced {r['offered']:,.0f}/s" if r["offered"] else "closed loop")
    return (
        name,
        str(workers),
        load,
        f"{r['rate']:,.0f}",
        f"{r['p50']:.1f}",
        f"{r['p99']:.1f}",
        f"{r['bad']:.0f}",
        "" if ratio is None else f"{ratio:.0%}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2, help="API processes, beside 1")
    parser.add_argument("--connections", default="16,64", help="closed-loop runs")
    parser.add_argument("--rate", type=int, default=500, help="offered load of the paced run")
    parser.add_argument("--paced-connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--no-http", action="store_true", help="only the in-process figures")
    parser.add_argument(
        "--model",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a promoted order_fraud champion scores every decision (--no-model: rules only)",
    )
    args = parser.parse_args()
    table(f"order checkpoint, {args.rules} rules, one core", bench_evaluate(args))
    if args.no_http:
        return
    if shutil.which("wrk") is None:
        sys.exit("bench_decide: wrk is not installed (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        bench_http(args, Path(tmp))


if __name__ == "__main__":
    main()
