"""Online state: apply throughput and windows() latency, memory and Redis backends.

Two update streams, applied in chunks as the projector applies them (live ingest: small chunks
right after a commit; start-up rebuild and catch-up: 2,000 events, ~40,000 updates):

* ``events`` - synthetic catalogue events (benchmarks/synth.py) turned into state updates by
  the real extraction (``riskops.core.entities.extract``): ~17 updates per event, over one day.
  Chunks hold whole events, so this is also the events/s of the projector's state side.
* ``random`` - ~200k updates over 10k users, 5 metrics and 90 days of event time (in log order,
  with some late ones): nearly every update lands in a different series, the sparse worst case.

For each backend, stream and chunk size it prints apply throughput (best of ``--repeat`` runs);
then windows() latency over the 7 standard windows for typical entities of both streams and
for two entities with 20 metrics (5 and 50 updates per metric). Redis is measured when
reachable (RISKOPS_TEST_REDIS_URL, default redis://127.0.0.1:6379/0). Figures, not assertions.

    .venv/bin/python benchmarks/bench_online_state.py [--events 20000] [--updates 200000]
        [--chunks 2000,40000] [--backends memory,redis] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from riskops.core.entities.extract import extract
from riskops.core.state.model import StateUpdate
from riskops.core.state.windows import STANDARD_WINDOWS
from riskops.stores.base import OnlineState
from riskops.stores.memory.online_state import MemoryOnlineState

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import events as synth_events

S = 1_000_000
DAY = 86_400 * S
AS_OF = 20_000 * DAY - 1
METRICS = ("orders", "amount", "ip", "device", "refunds")

Batch = list[StateUpdate]
"""The updates of one event (``events``) or one update (``random``)."""


def event_updates(n: int, seed: int = 7) -> list[Batch]:
    """``n`` synthetic events over one day ending just before ``AS_OF``, each as its updates."""
    from datetime import UTC, datetime

    start = datetime.fromtimestamp((AS_OF - DAY) / S, UTC)
    return [
        list(extract(e, b"bench-secret").updates)
        for e in synth_events(n, seed=seed, start=start, span_s=86_400 - 60)
    ]


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


def chunked(batches: Sequence[Batch], size: int) -> list[Batch]:
    """Whole batches (events) per chunk, each chunk closed once it holds ``size`` updates."""
    chunks: list[Batch] = []
    current: Batch = []
    for batch in batches:
        current.extend(batch)
        if len(current) >= size:
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)
    return chunks


def apply_all(state: OnlineState, chunks: Sequence[Batch]) -> float:
    """Reset, apply every chunk in turn; returns the seconds it took."""
    state.reset()
    t0 = time.perf_counter()
    for seq, chunk in enumerate(chunks):
        assert state.apply(chunk, seq, seq + 1)
    return time.perf_counter() - t0


def bench_apply(
    name: str, state: OnlineState, streams: dict[str, list[Batch]], sizes: list[int], repeat: int
) -> None:
    for stream, batches in streams.items():
        n = sum(len(b) for b in batches)
        per = "events" if stream == "events" else None
        for size in sizes:
            chunks = chunked(batches, size)
            seconds = min(apply_all(state, chunks) for _ in range(repeat))
            rate = f"{n / seconds:10,.0f} updates/s"
            line = f"{name:7s} apply  {stream:7s} chunks of ~{size:6,d}: {rate}"
            if per:
                line += f"  {len(batches) / seconds:8,.0f} {per}/s"
            print(line + f"  ({n:,} updates, {len(chunks):,} chunks)")


def percentiles(samples_us: list[float]) -> str:
    q = statistics.quantiles(samples_us, n=100)
    return f"p50 {q[49]:8.1f} µs   p99 {q[98]:8.1f} µs"


def bench_reads(name: str, state: OnlineState, streams: dict[str, list[Batch]]) -> None:
    def timed(call: Callable[[], object]) -> float:
        t = time.perf_counter()
        call()
        return (time.perf_counter() - t) * 1e6

    def read(entity_type: str, entity_id: str, as_of: int) -> float:
        return timed(lambda: state.windows(entity_type, entity_id, STANDARD_WINDOWS, as_of))

    cases: list[tuple[str, list[float]]] = []
    for stream, batches in streams.items():
        updates = [u for b in batches for u in b]
        apply_all(state, chunked(batches, 2000))
        seq = len(chunked(batches, 2000))
        as_of = max(u.occurred_at_us for u in updates)
        rng = random.Random(1)
        picks = rng.sample(updates, min(2000, len(updates)))
        if stream == "events":
            for kind in ("user", "device", "ip24"):
                entities = [(u.entity_type, u.entity_id) for u in picks if u.entity_type == kind]
                label = f"an event's {kind} ({stream})"
                cases.append((label, [read(t, i, as_of) for t, i in entities[:1000]]))
        else:
            label = "a user (~5 metrics, ~4 updates each)"
            cases.append((label, [read("user", u.entity_id, AS_OF) for u in picks]))
            assert state.apply(wide_entity("wide", 5, seed=7), seq, seq + 1)
            assert state.apply(wide_entity("busy", 50, seed=8), seq + 1, seq + 2)
            for label, entity in (
                ("20 metrics x 5 updates", "wide"),
                ("20 metrics x 50 updates", "busy"),
            ):
                cases.append((label, [read("merchant", entity, AS_OF) for _ in range(500)]))
    for label, samples in cases:
        print(f"{name:7s} windows 7 windows, {label:37s} {percentiles(samples)}")
    state.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--updates", type=int, default=200_000)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--chunks", default="2000,40000", help="chunk sizes, in updates")
    parser.add_argument("--backends", default="memory,redis")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-reads", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.chunks.split(",")]
    streams: dict[str, list[Batch]] = {}
    if args.events:
        streams["events"] = event_updates(args.events)
    if args.updates:
        streams["random"] = [[u] for u in make_updates(args.updates, args.entities)]
    for stream, batches in streams.items():
        n = sum(len(b) for b in batches)
        print(f"{stream:7s} {len(batches):,} batches, {n:,} updates")
    print()

    backends = args.backends.split(",")
    if "memory" in backends:
        memory = MemoryOnlineState()
        bench_apply("memory", memory, streams, sizes, args.repeat)
        if not args.no_reads:
            bench_reads("memory", memory, streams)
    if "redis" not in backends:
        return
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
        bench_apply("redis", state, streams, sizes, args.repeat)
        if not args.no_reads:
            bench_reads("redis", state, streams)
    finally:
        state.reset()
        state.close()


if __name__ == "__main__":
    main()
