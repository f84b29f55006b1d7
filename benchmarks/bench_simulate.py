"""Simulator speed: events/s and peak RSS for a run of about ``--events`` events (the number of
users is sized for it over ``--days``), written as JSONL.

    python benchmarks/bench_simulate.py [--events 10000000] [--days 21] [--generation 1]

Figures, not assertions.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import peak_rss_mb, table

EVENTS_PER_USER_DAY = 2.65  # measured on the default mix over 21 days


def main() -> None:
    from riskops.simulator import SimConfig, simulate

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--generation", type=int, default=1)
    args = parser.parse_args()
    users = max(100, int(args.events / args.days / EVENTS_PER_USER_DAY))
    config = SimConfig(
        days=args.days,
        users=users,
        merchants=max(10, users // 50),
        skus=max(200, users // 5),
        generation=args.generation,
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "events.jsonl"
        t0 = time.perf_counter()
        last = [t0]

        def progress(done: int, total: int, events: int) -> None:
            now = time.perf_counter()
            print(f"day {done}/{total}: {events:,} events, {now - t0:.0f} s", flush=True)
            last[0] = now

        summary = simulate(config, out, Path(tmp) / "labels.jsonl", progress=progress)
        size_mb = out.stat().st_size / 1e6
    table(
        f"simulate: {users:,} users x {args.days} days, generation {args.generation}",
        [
            ("events", f"{summary.events:,}"),
            ("labels", f"{summary.labels:,}"),
            ("seconds", f"{summary.seconds:.1f}"),
            ("events/s", f"{summary.events / summary.seconds:,.0f}"),
            ("JSONL size (MB)", f"{size_mb:,.0f}"),
            ("peak RSS (MB)", f"{peak_rss_mb():,.0f}"),
        ],
    )


if __name__ == "__main__":
    main()
