"""Online state: apply throughput and windows() latency, memory and Redis backends.

~200k updates over 10k entities and 90 days of event time (in log order, with some late ones),
applied in chunks as the projector would; then windows() over the 7 standard windows for random
users, and for two entities with 20 metrics (5 and 50 updates per metric). Redis is measured
when reachable (RISKOPS_TEST_REDIS_URL, default redis://127.0.0.1:6379/0). Prints figures; it
asserts nothing.

    .venv/bin/python benchmarks/bench_online_state.py [--updates 200000] [--chunk 1000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable

from riskops.core.state.model import StateUpdate
from riskops.core.state.windows import STANDARD_WINDOWS
from riskops.stores.base import OnlineState
from riskops.stores.memory.online_state import MemoryOnlineState

S = 1_000_000
DAY = 86_400 * S
AS_OF = 20_000 * DAY - 1
METRICS = ("orders", "amount", "ip", "device", "refunds")


def make_updates(n: int, entities: int, seed: int = 42) -> list[StateUpdate]:
    rng = random.Random(seed)
    times = sorted(AS_OF - rng.randrange(90 * DAY) for _ in range(n))
    updates = []
    for t in times:
        if rng.random() < 0.05:
            t -= rng.randrange(3600 * S)  # late
        entity = f"u{rng.randrange(entities)}"
        metric = rng.choice(METRICS)
        value = round(rng.uniform(1, 500), 2) if metric in ("amount", "refunds") else None
        distinct = f"10.0.{rng.randrange(256)}.{rng.randrange(256)}" if metric == "ip" else None
        if metric == "device":
            distinct = f"dev-{rng.randrange(5000)}"
        updates.append(StateUpdate("user", entity, metric, t, value, distinct))
    return updates


def wide_entity(entity_id: str, per_metric: int, seed: int) -> list[StateUpdate]:
    """One entity with 20 metrics, ``per_metric`` updates each over 90 days, a fifth recent."""
    rng = random.Random(seed)
    out = []
    for m in range(20):
        for _ in range(per_metric):
            age = rng.randrange(3600 * S) if rng.random() < 0.2 else rng.randrange(90 * DAY)
            out.append(
                StateUpdate(
                    "merchant",
                    entity_id,
                    f"metric_{m:02d}",
                    AS_OF - age,
                    float(rng.randrange(100)),
                    f"v{rng.randrange(30)}" if m % 4 == 0 else None,
                )
            )
    return out


def percentiles(samples_us: list[float]) -> str:
    q = statistics.quantiles(samples_us, n=100)
    return f"p50 {q[49]:8.1f} µs   p99 {q[98]:8.1f} µs"


def bench(name: str, state: OnlineState, updates: list[StateUpdate], chunk: int) -> None:
    state.reset()
    t0 = time.perf_counter()
    seq = 0
    for i in range(0, len(updates), chunk):
        assert state.apply(updates[i : i + chunk], seq, seq + 1)
        seq += 1
    elapsed = time.perf_counter() - t0
    print(f"{name:7s} apply    {len(updates) / elapsed:10,.0f} updates/s  (chunks of {chunk})")
    assert state.apply(wide_entity("wide", 5, seed=7), seq, seq + 1)
    assert state.apply(wide_entity("busy", 50, seed=8), seq + 1, seq + 2)

    def timed(call: Callable[[], object], repeat: int) -> list[float]:
        samples = []
        for _ in range(repeat):
            t = time.perf_counter()
            call()
            samples.append((time.perf_counter() - t) * 1e6)
        return samples

    def read(entity_type: str, entity_id: str, repeat: int) -> list[float]:
        return timed(lambda: state.windows(entity_type, entity_id, STANDARD_WINDOWS, AS_OF), repeat)

    rng = random.Random(1)
    typical = [t for u in rng.sample(updates, 2000) for t in read("user", u.entity_id, 1)]

    cases = [
        ("a user (~5 metrics, ~4 updates each)", typical),
        ("20 metrics x 5 updates", read("merchant", "wide", 500)),
        ("20 metrics x 50 updates", read("merchant", "busy", 500)),
    ]
    for label, samples in cases:
        print(f"{name:7s} windows  7 windows, {label:37s} {percentiles(samples)}")
    state.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200_000)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=1000)
    args = parser.parse_args()
    updates = make_updates(args.updates, args.entities)
    print(f"{len(updates):,} updates, {args.entities:,} entities, 90 days\n")
    bench("memory", MemoryOnlineState(), updates, args.chunk)

    url = os.environ.get("RISKOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        from riskops.stores.redis.online_state import RedisOnlineState

        client = redis.Redis.from_url(url)
        client.ping()
    except Exception as exc:
        print(f"redis   skipped: {url} not reachable ({exc})")
        return
    state = RedisOnlineState(client, f"riskops-bench:{uuid.uuid4().hex}")
    try:
        bench("redis", state, updates, args.chunk)
    finally:
        state.reset()
        client.close()


if __name__ == "__main__":
    main()
