"""Entity profile lookup latency: the service call and the full HTTP round trip.

    python benchmarks/bench_profile.py --events 200000 --lookups 2000
    python benchmarks/bench_profile.py --database-url postgresql+psycopg://postgres@127.0.0.1/test \
        --state-backend redis

Loads synthetic events (users, devices, IPs, addresses, instruments, merchants, coupons), then
looks up random users, devices and addresses (all metrics × 7 windows, 50 links, list
memberships, users sharing) and prints p50 / p99 / max. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import _fresh_pg
from common import create_key, percentile, riskops_env, server, table
from synth import events


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--state-backend", default="memory", choices=["memory", "redis"])
    args = parser.parse_args()
    from riskops.config import Settings
    from riskops.services.file_ingest import FileIngest
    from riskops.services.runtime import build_runtime

    db_url = _fresh_pg(args.database_url) if args.database_url else None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "events.jsonl"
        with path.open("wb") as fh:
            for e in events(args.events, span_s=7 * 86_400):
                fh.write(orjson.dumps(e) + b"\n")
        prefix = f"bench-{int(time.time())}"
        settings = Settings(
            data_dir=work / "data",
            secret_key="bench-secret",
            database_url=db_url,
            state_backend=args.state_backend,
            redis_prefix=prefix,
        )
        loader = build_runtime(settings, with_state=False)
        FileIngest(loader.ingest, loader.clock, workers=2).run(
            path, rejected_path=work / "rejected.jsonl"
        )
        loader.graph.catch_up()
        loader.close()
        rt = build_runtime(settings)
        rt.projector.catch_up()
        rng = random.Random(3)
        targets = [("user", f"u{rng.randrange(20_000)}") for _ in range(args.lookups)]
        targets += [("device", f"dev-{rng.randrange(15_000):05d}") for _ in range(args.lookups)]
        targets += [
            ("address", f"{rng.randrange(5000)} Main Street Jakarta ID")
            for _ in range(args.lookups // 4)
        ]
        service: list[float] = []
        misses = 0
        for kind, ident in targets:
            t0 = time.perf_counter()
            try:
                rt.profiles.profile(kind, ident)
            except Exception:
                misses += 1
            service.append(time.perf_counter() - t0)
        extra = {"database_url": db_url} if db_url else {}
        extra |= {"state_backend": args.state_backend, "redis_prefix": prefix}
        env = riskops_env(work / "data", **extra)
        key = create_key(env)
        rt.close()
        http: list[float] = []
        with (
            server(env) as url,
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client,
        ):
            for kind, ident in targets[: args.lookups]:
                t0 = time.perf_counter()
                client.get(f"/v1/entities/{kind}/{ident}")
                http.append(time.perf_counter() - t0)
        if args.state_backend == "redis":
            import redis

            r = redis.Redis.from_url(settings.redis_url)
            keys = list(r.scan_iter(match=f"{prefix}*", count=5000))
            for i in range(0, len(keys), 1000):
                r.delete(*keys[i : i + 1000])
    db = "PostgreSQL" if db_url else "SQLite"
    table(
        f"entity profile lookup ({db} + {args.state_backend} state, {args.events:,} events)",
        [
            ("lookups (service)", f"{len(service):,} ({misses} not found)"),
            ("service p50 (ms)", f"{percentile(service, 50) * 1000:.2f}"),
            ("service p99 (ms)", f"{percentile(service, 99) * 1000:.2f}"),
            ("service max (ms)", f"{max(service) * 1000:.2f}"),
            ("HTTP round trip p50 (ms)", f"{percentile(http, 50) * 1000:.2f}"),
            ("HTTP round trip p99 (ms)", f"{percentile(http, 99) * 1000:.2f}"),
        ],
    )


if __name__ == "__main__":
    main()
