"""Single-event HTTP ingest under load, measured with wrk (a C load generator, so the client
does not compete with the server for the GIL): each request POSTs one new event and is
answered only after the event is durable in the log and applied to the online state.

    python benchmarks/bench_http.py                              # SQLite, in-process state
    python benchmarks/bench_http.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
    python benchmarks/bench_http.py --database-url … --state-backend redis --workers 2

Needs `wrk` on PATH (Debian: `apt-get install wrk`). Prints events/s and latency per number
of connections. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import _drop_pg_schema, _fresh_pg
from common import ROOT, create_key, riskops_env, server, table, wrk

LUA = ROOT / "benchmarks" / "wrk_events.lua"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="PostgreSQL (a fresh schema)")
    parser.add_argument("--state-backend", default="memory", choices=["memory", "redis"])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--workers", type=int, default=1, help="API processes")
    parser.add_argument("--connections", default="64,256", help="comma-separated")
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench_http: wrk is not installed (Debian: apt-get install wrk)")
    url = _fresh_pg(args.database_url) if args.database_url else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            extra = {"state_backend": args.state_backend}
            if url:
                extra["database_url"] = url
            if args.state_backend == "redis":
                extra["redis_url"] = args.redis_url
                extra["redis_prefix"] = f"bench-{Path(tmp).name}"
            env = riskops_env(Path(tmp) / "data", **extra)
            key = create_key(env)
            rows: list[tuple[str, str]] = []
            with server(env, workers=args.workers) as base:
                headers = [f"Authorization: Bearer {key}", "Content-Type: application/json"]
                wrk(base, LUA, 64, 3, headers)  # warm-up
                for c in (int(x) for x in args.connections.split(",")):
                    got = wrk(base, LUA, c, args.seconds, headers)
                    rows.append(
                        (
                            f"{c} connections",
                            f"{got['rate']:,.0f} events/s · p50 {got['p50']:.1f} ms · "
                            f"p99 {got['p99']:.1f} ms · non-2xx {got['bad']:.0f}",
                        )
                    )
    finally:
        if url:
            _drop_pg_schema(url)
        if args.state_backend == "redis":
            import redis

            client = redis.Redis.from_url(args.redis_url)
            for k in client.scan_iter(match=f"bench-{Path(tmp).name}*", count=1000):
                client.delete(k)
    db = "PostgreSQL" if url else "SQLite"
    table(
        f"single-event HTTP → {db}, state {args.state_backend}, {args.workers} process(es)",
        rows,
    )


if __name__ == "__main__":
    main()
