"""Durable ingest throughput: batch from a file (the `riskops ingest` path) and single-event
HTTP (concurrent clients, group commit), on SQLite or PostgreSQL.

    python benchmarks/bench_ingest.py file --events 1000000
    python benchmarks/bench_ingest.py http --events 20000 --concurrency 32
    python benchmarks/bench_ingest.py file --database-url postgresql+psycopg://postgres@127.0.0.1/test

Prints events/s (durable in the log), the entity-graph catch-up rate, latency percentiles for
HTTP, and peak RSS. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import create_key, peak_rss_mb, percentile, riskops_env, server, table
from synth import events


def _drop_pg_schema(url: str) -> None:
    import sqlalchemy as sa

    base, _, options = url.partition("options=-csearch_path%3D")
    schema = options.split("&")[0]
    engine = sa.create_engine(base.rstrip("?&"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def _fresh_pg(url: str) -> str:
    """A fresh schema in the given PostgreSQL database, so runs don't see each other."""
    import uuid

    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def bench_file(args: argparse.Namespace, work: Path) -> None:
    from riskops.config import Settings
    from riskops.services.file_ingest import FileIngest
    from riskops.services.runtime import build_runtime

    path = work / "events.jsonl"
    t0 = time.perf_counter()
    with path.open("wb") as fh:
        for e in events(args.events, seed=args.seed):
            fh.write(orjson.dumps(e) + b"\n")
    gen_s = time.perf_counter() - t0
    settings = Settings(
        data_dir=work / "data", secret_key="bench-secret", database_url=args.database_url
    )
    runtime = build_runtime(settings, with_state=False)
    summary = FileIngest(runtime.ingest, runtime.clock, chunk=args.chunk, workers=args.workers).run(
        path, rejected_path=work / "rejected.jsonl"
    )
    t1 = time.perf_counter()
    folded = runtime.graph.catch_up()
    graph_s = time.perf_counter() - t1
    runtime.close()
    db = "PostgreSQL" if args.database_url else "SQLite"
    table(
        f"file ingest → {db} ({args.events:,} events, workers={args.workers})",
        [
            ("generate JSONL (s)", f"{gen_s:.1f}"),
            ("accepted / rejected", f"{summary.accepted:,} / {summary.rejected:,}"),
            ("log append: seconds", f"{summary.seconds:.2f}"),
            ("log append: events/s (durable)", f"{summary.rate:,.0f}"),
            ("entity graph catch-up: seconds", f"{graph_s:.2f}"),
            ("entity graph catch-up: events/s", f"{folded / graph_s:,.0f}"),
            (
                "end to end (log + graph): events/s",
                f"{summary.accepted / (summary.seconds + graph_s):,.0f}",
            ),
            ("peak RSS of this process so far (MB)", f"{peak_rss_mb():,.0f}"),
            ("peak RSS of worker processes (MB)", f"{peak_rss_mb(children=True):,.0f}"),
        ],
    )
    if args.skip_state:
        return
    t2 = time.perf_counter()
    state_runtime = build_runtime(settings)
    applied = state_runtime.projector.catch_up()
    state_s = time.perf_counter() - t2
    state_runtime.close()
    table(
        f"online state ({settings.state_backend}) rebuilt from the log",
        [
            ("events applied", f"{applied:,}"),
            ("seconds", f"{state_s:.2f}"),
            ("events/s", f"{applied / state_s:,.0f}"),
            ("peak RSS of this process (MB)", f"{peak_rss_mb():,.0f}"),
        ],
    )


async def _post_all(url: str, key: str, bodies: list[bytes], concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(b)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=30
    ) as client:

        async def worker() -> None:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                start = time.perf_counter()
                r = await client.post("/v1/events", content=body)
                latencies.append(time.perf_counter() - start)
                if r.status_code not in (200, 201):
                    raise RuntimeError(f"{r.status_code}: {r.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def bench_http(args: argparse.Namespace, work: Path) -> None:
    extra = {"database_url": args.database_url} if args.database_url else {}
    env = riskops_env(work / "data", **extra)
    key = create_key(env)
    bodies = [orjson.dumps(e) for e in events(args.events, seed=args.seed, span_s=3600)]
    with server(env, workers=args.server_workers) as url:
        warm = bodies[: min(500, len(bodies) // 10)]
        asyncio.run(_post_all(url, key, warm, args.concurrency))
        rest = bodies[len(warm) :]
        t0 = time.perf_counter()
        latencies = asyncio.run(_post_all(url, key, rest, args.concurrency))
        elapsed = time.perf_counter() - t0
        count = httpx.get(f"{url}/readyz").json()
    db = "PostgreSQL" if args.database_url else "SQLite"
    table(
        f"single-event HTTP → {db} ({len(rest):,} events, {args.concurrency} connections, "
        f"{args.server_workers} server process(es))",
        [
            ("events/s (each acknowledged after commit)", f"{len(rest) / elapsed:,.0f}"),
            ("latency p50 (ms)", f"{percentile(latencies, 50) * 1000:.1f}"),
            ("latency p99 (ms)", f"{percentile(latencies, 99) * 1000:.1f}"),
            ("state lag after run", str(count.get("checks", {}).get("state_lag_events"))),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["file", "http"])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL (a fresh schema is created in it)"
    )
    parser.add_argument("--workers", type=int, default=2, help="file: validation workers")
    parser.add_argument("--chunk", type=int, default=5000, help="file: events per transaction")
    parser.add_argument("--skip-state", action="store_true", help="file: no state rebuild")
    parser.add_argument("--concurrency", type=int, default=32, help="http: connections")
    parser.add_argument("--server-workers", type=int, default=1, help="http: API processes")
    args = parser.parse_args()
    if args.database_url:
        args.database_url = _fresh_pg(args.database_url)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.mode == "file":
                bench_file(args, Path(tmp))
            else:
                bench_http(args, Path(tmp))
    finally:
        if args.database_url:
            _drop_pg_schema(args.database_url)


if __name__ == "__main__":
    main()
