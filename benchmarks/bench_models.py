"""Models: training ``order_fraud`` on ``--orders`` labelled orders, and the latency that
scoring adds to a decision, on the embedded default (SQLite, in-process state).

1. A seeded four-week marketplace (``Shop``): honest buyers (households sharing a device or an
   address, carrier-NAT addresses, moves, logins, mistyped passwords) and brushing rings,
   account takeovers and stolen-card accounts, whose orders are reported days later as
   ``label.reported`` events (about 2 % of the orders). Written as JSONL, loaded by FileIngest.
2. ``riskops.services.models.train.train`` on the whole log in a process of its own (so its
   peak RSS is the training's), split into reading the log, features, LightGBM and the rest
   (split, scoring every row, calibration, metrics) by timing the two calls ``train`` makes;
   then registered and promoted under the data dir.
3. In another process: the online state caught up from the log as ``riskops serve`` does (the
   entity graph is not: these decisions do not read it; and the garbage collector is tuned
   for serving before, not after, the catch-up), the starter order rules active.
   ``--decisions`` fresh orders (not in the log, just after it) go through
   ``runtime.decisions.evaluate`` and through a decision service built alike whose data dir has
   no models, in random order per order, so both see the same machine. Then the champion's
   ``score`` alone on the contexts it scored, its explanation (non-allow decisions only) and
   LightGBM's own single-row ``predict``.

    python benchmarks/bench_models.py [--orders 1000000] [--decisions 5000] [--data DIR]

``--data DIR`` keeps the log there and reuses it when run again with the same ``--orders`` and
``--seed``. LightGBM's OpenMP threads wait passively (``OMP_WAIT_POLICY=PASSIVE``) unless the
variable is set: spinning threads made training 15 times slower with other work on the two
cores. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import heapq
import importlib
import itertools
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, console, peak_rss_mb, percentile, table

DAY, DAYS, RING_DAYS = 86_400.0, 28, 7  # four weeks of log; a brushing ring works for a week
RING_SHARE, TAKEOVER_SHARE, CARD_SHARE = 0.011, 0.004, 0.005  # of the orders
FRIENDLY_FRAUD = 0.001  # honest orders reported as fraud all the same: noise no feature explains
MARKETS = {"ID": "Jakarta", "TH": "Bangkok", "MY": "Kuala Lumpur", "SG": "Singapore"}
CODES = list(MARKETS)
HOURS = list(itertools.accumulate([1, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 7, 8, 7, 6, 6, 6, 7, 8, 10]))
HOURS += [HOURS[-1] + w for w in itertools.accumulate([11, 10, 6, 3])]  # honest orders, UTC
META, WARMUP = "bench_models.json", 200
Timed = tuple[float, dict[str, Any]]


class Pattern(NamedTuple):
    """How a kind of session orders: amounts (high 0: log-normal, median 25), payment methods,
    the most seconds between its orders, and the label reported later on a share of them."""

    low: float
    high: float
    methods: tuple[str, ...]
    gap_s: float
    label: str
    share: float
    source: str
    days: float


HONEST = Pattern(0, 0, ("card", "wallet", "cod"), 3000, "fraud", FRIENDLY_FRAUD, "chargeback", 30)
RING = Pattern(1, 15, ("cod", "wallet"), 600, "brushing", 0.9, "confirmed_brushing", 6)
TAKEOVER = Pattern(150, 900, ("card",), 600, "account_takeover", 0.95, "case", 5)
CARD = Pattern(80, 600, ("card",), 900, "fraud", 0.8, "chargeback", 20)


class Actor(NamedTuple):
    user: str
    device: str
    ip: str
    market: str
    line1: str
    instrument: str


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Shop:
    """``orders`` orders over DAYS days ending near ``end`` (epoch seconds). Seeded: the serving
    process rebuilds the same buyers, devices and rings for its fresh orders."""

    def __init__(self, orders: int, seed: int, end: float, prefix: str = "m") -> None:
        self.orders, self.seed, self.end, self.prefix = orders, seed, end, prefix
        self.start, self.last = end - DAYS * DAY, end - DAYS * DAY
        rng = random.Random(seed)
        self.buyers = max(2_000, orders // 10)
        self.cum = list(itertools.accumulate(rng.paretovariate(1.5) for _ in range(self.buyers)))
        self.rings = max(4, round(orders * RING_SHARE / 40))  # about 40 orders a ring
        self.ring_day = [(DAYS - RING_DAYS) * r / (self.rings - 1) for r in range(self.rings)]
        self.fraudsters = max(2, round(orders * CARD_SHARE / 8))
        self.labels: Counter[str] = Counter()
        self._n = itertools.count()

    def _event(self, kind: str, t: float, a: Actor, payload: dict[str, Any]) -> Timed:
        eid = f"{self.prefix}{self.seed}-{next(self._n)}"
        return t, {
            "event_id": eid,
            "type": kind,
            "occurred_at": iso(t),
            "market": a.market,
            "user_id": a.user,
            "device": {"fingerprint": a.device},
            "ip": a.ip,
            "payload": payload,
        }

    def moves_at(self, u: int) -> float:
        """When buyer ``u`` moves house (one in 40 does, once)."""
        return self.start + DAY + (u * 7919) % ((DAYS - 2) * int(DAY))

    def buyer(self, rng: random.Random, t: float) -> Actor:
        u = bisect.bisect(self.cum, rng.random() * self.cum[-1])  # a few buy a lot
        return self.buyer_of(rng, u, t)

    def buyer_of(self, rng: random.Random, u: int, t: float) -> Actor:
        device = f"dev-{u - 1 if u % 10 == 1 else u:06d}"  # households of two share a device
        device += "-b" if u % 5 == 0 and rng.random() < 0.3 else ""
        k = rng.randrange(2000)  # a third of the time on a carrier NAT address many share
        ip = (
            f"100.64.{k // 250}.{k % 250 + 1}"
            if rng.random() < 0.3
            else f"10.{u // 62_500}.{u // 250 % 250}.{u % 250 + 1}"
        )
        home = u - 1 if u % 20 == 1 else u  # and some share only the address
        moved = u % 40 == 0 and t >= self.moves_at(u)
        line1 = f"Apt {home} Jalan Baru" if moved else f"{home} Jalan Merdeka"
        return Actor(f"u{u}", device, ip, CODES[u % 4], line1, f"tok-{u}")

    def ring_member(self, rng: random.Random, r: int, m: int | None = None) -> Actor:
        """A member of ring ``r``: 8-20 accounts on 2-3 devices, 2 addresses, one /24."""
        m = rng.randrange(8 + r % 13) if m is None else m
        ip = f"172.{16 + r // 250 % 16}.{r % 250}.{1 + rng.randrange(20)}"
        device, line1 = f"ring-{r}-{m % (2 + r % 2)}", f"{r} Gang Mawar {m % 2}"
        return Actor(f"r{r}-{m}", device, ip, CODES[r % 4], line1, f"rt-{r}-{m}")

    def _order(self, rng: random.Random, t: float, a: Actor, amount: float, method: str) -> Timed:
        n = 1 if amount < 20 else rng.choice((1, 1, 2, 3))
        price = round(max(amount, 1.0) / n, 2)
        items = [
            {
                "sku": f"sku-{rng.randrange(20_000)}",
                "merchant_id": f"m{rng.randrange(500)}",
                "price": price,
                "qty": 1,
            }
            for _ in range(n)
        ]
        address = {"line1": a.line1, "city": MARKETS[a.market], "country": a.market}
        t, e = self._event("order.placed", t, a, {})
        e["payload"] = {
            "order_id": f"o-{e['event_id']}",
            "items": items,
            "currency": "USD",
            "payment_method": method,
            "payment_instrument": a.instrument,
            "shipping_address": address,
        }
        return t, e

    def _label(
        self, rng: random.Random, order: Timed, kind: str, source: str, days: float
    ) -> Timed:
        t, e = order
        at = min(self.end, t + rng.uniform(1, days) * DAY)
        self.labels[kind] += 1
        payload = {
            "label": kind,
            "entity_type": "order",
            "source": source,
            "entity_id": e["payload"]["order_id"],
        }
        return at, {
            "event_id": f"{e['event_id']}-label",
            "type": "label.reported",
            "occurred_at": iso(at),
            "market": e["market"],
            "payload": payload,
        }

    def _orders(
        self, rng: random.Random, t: float, a: Actor, n: int, p: Pattern, out: list[Timed]
    ) -> int:
        """``n`` orders of ``a`` from ``t`` on, the way ``p`` orders."""
        for k in range(n):
            amount = (
                rng.uniform(p.low, p.high) if p.high else min(2e3, rng.lognormvariate(3.2, 0.9))
            )
            at = t + k * rng.uniform(30, p.gap_s)
            out.append(self._order(rng, at, a, amount, rng.choice(p.methods)))
            if rng.random() < p.share:
                out.append(self._label(rng, out[-1], p.label, p.source, p.days))
        return n

    def _honest(self, rng: random.Random, t: float, left: int, out: list[Timed]) -> int:
        a = self.buyer(rng, t)
        if rng.random() < 0.3:  # most buyers stay logged in between orders
            if rng.random() < 0.05:
                out.append(self._event("login.failed", t - 1500, a, {}))
            out.append(self._event("login.succeeded", t - rng.uniform(60, 1200), a, {}))
        return self._orders(rng, t, a, min(left, 2 if rng.random() < 0.1 else 1), HONEST, out)

    def _ring(self, rng: random.Random, t: float, left: int, out: list[Timed]) -> int:
        """A burst of small orders from a ring account to the ring's own addresses."""
        day = (t - self.start) / DAY
        active = [r for r in range(self.rings) if 0 <= day - self.ring_day[r] < RING_DAYS]
        a = self.ring_member(rng, rng.choice(active or [self.rings - 1]))
        out.append(self._event("login.succeeded", t - rng.uniform(30, 300), a, {}))
        return self._orders(rng, t, a, min(left, rng.randint(2, 5)), RING, out)

    def _takeover(self, rng: random.Random, t: float, left: int, out: list[Timed]) -> int:
        """Failed logins from a new device, a login, a new drop address, big orders."""
        i, ip = (
            next(self._n),
            f"45.{rng.randrange(1, 250)}.{rng.randrange(250)}.{rng.randrange(1, 250)}",
        )
        a = self.buyer(rng, t)._replace(device=f"ato-{i}", ip=ip, line1=f"{i % 60} Gudang Street")
        for k in range(rng.randint(3, 8)):
            out.append(self._event("login.failed", t - 900 + k * 20, a, {}))
        out.append(self._event("login.succeeded", t - 300, a, {}))
        address = {"line1": a.line1, "city": MARKETS[a.market], "country": a.market}
        out.append(self._event("address.changed", t - 120, a, {"address": address}))
        return self._orders(rng, t, a, min(left, rng.randint(1, 3)), TAKEOVER, out)

    def _card(self, rng: random.Random, t: float, left: int, out: list[Timed]) -> int:
        """A fresh account of a fraudster (who reuses a device) spending a stolen card."""
        f, i = rng.randrange(self.fraudsters), next(self._n)
        ip = f"77.{f % 250}.{rng.randrange(250)}.{rng.randrange(1, 250)}"
        a = Actor(f"x{i}", f"fdev-{f}", ip, CODES[f % 4], f"{i} Jalan Sudirman", f"stolen-{i}")
        out.append(self._event("user.registered", t - rng.uniform(300, 3000), a, {}))
        return self._orders(rng, t, a, min(left, rng.randint(1, 2)), CARD, out)

    def _day(self, rng: random.Random, d: int, budget: int) -> list[Timed]:
        day0, out, placed = self.start + d * DAY, list[Timed](), 0
        for u in range(0, self.buyers, 40):
            if day0 <= self.moves_at(u) < day0 + DAY:
                a = self.buyer_of(rng, u, self.moves_at(u))
                address = {"line1": a.line1, "city": MARKETS[a.market], "country": a.market}
                out.append(
                    self._event("address.changed", self.moves_at(u), a, {"address": address})
                )
        for r in (r for r in range(self.rings) if int(self.ring_day[r]) == d):
            for m in range(8 + r % 13):
                out.append(
                    self._event("user.registered", day0 + m * 37, self.ring_member(rng, r, m), {})
                )
        for share, session in (
            (RING_SHARE, self._ring),
            (TAKEOVER_SHARE, self._takeover),
            (CARD_SHARE, self._card),
        ):
            quota = round(budget * share)
            while quota > 0 and placed < budget:
                n = session(rng, day0 + rng.uniform(3600, DAY), min(quota, budget - placed), out)
                placed, quota = placed + n, quota - n
        while placed < budget:
            t = day0 + (bisect.bisect(HOURS, rng.random() * HOURS[-1]) + rng.random()) * 3600
            placed += self._honest(rng, t, budget - placed, out)
        return out

    def events(self) -> Iterator[dict[str, Any]]:
        """The log in time order (sessions spill past midnight, labels come days later)."""
        rng, tie, pending = random.Random(self.seed + 1), itertools.count(), list[Any]()
        per_day, extra = divmod(self.orders, DAYS)
        for d in range(DAYS):
            for t, e in self._day(rng, d, per_day + (d < extra)):
                heapq.heappush(pending, (t, next(tie), e))
            limit = self.start + (d + 1) * DAY if d < DAYS - 1 else float("inf")
            while pending and pending[0][0] < limit:
                t, _, e = heapq.heappop(pending)
                self.last = max(self.last, t)
                yield e

    def fresh(self, n: int, after: float) -> list[dict[str, Any]]:
        """``n`` orders after ``after``, not in the log: 95 % from buyers, 5 % from the three
        rings that worked last."""
        rng, out = random.Random(self.seed + 2), []
        for i in range(n):
            t = after + 1 + i * 0.05
            if rng.random() < 0.05:
                a = self.ring_member(rng, self.rings - 1 - rng.randrange(min(3, self.rings)))
                out.append(self._order(rng, t, a, rng.uniform(1, 15), "cod")[1])
            else:
                amount = min(2000.0, rng.lognormvariate(3.2, 0.9))
                out.append(self._order(rng, t, self.buyer(rng, t), amount, "card")[1])
        return out


def bar(what: str) -> Progress:
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(TextColumn(f"[bold]{what}[/]"), *columns, console=console)


def build(work: Path, with_state: bool) -> Any:
    from riskops.config import Settings
    from riskops.services.runtime import build_runtime

    return build_runtime(Settings(data_dir=work, secret_key="bench-secret"), with_state=with_state)


def load(work: Path, orders: int, seed: int) -> dict[str, Any]:
    """Write the marketplace as JSONL and load it with FileIngest; the meta file last."""
    from riskops.services.file_ingest import FileIngest

    runtime = build(work, with_state=False)
    shop, path, events = Shop(orders, seed, end=time.time() - 7200), work / "events.jsonl", 0
    t0 = time.perf_counter()
    with bar("writing the marketplace: orders") as progress, path.open("wb") as fh:
        task = progress.add_task("", total=orders)
        for e in shop.events():
            fh.write(orjson.dumps(e) + b"\n")
            events += 1
            if events % 20_000 == 0:
                progress.update(task, completed=int(orders * (shop.last - shop.start) / DAY / DAYS))
        progress.update(task, completed=orders)
    t1 = time.perf_counter()
    with bar("loading it with FileIngest: MB") as progress:
        task = progress.add_task("", total=None)
        summary = FileIngest(runtime.ingest, runtime.clock).run(
            path,
            rejected_path=work / "rejected.jsonl",
            progress=lambda at, size: progress.update(task, completed=at >> 20, total=size >> 20),
        )
    path.unlink()
    runtime.close()
    if summary.rejected or summary.accepted != events:
        sys.exit(f"bench_models: {summary.rejected} synthetic events were rejected (see {work})")
    meta = {
        "orders": orders,
        "seed": seed,
        "end": shop.end,
        "last": shop.last,
        "events": events,
        "labels": dict(shop.labels),
        "generate_s": t1 - t0,
        "ingest_s": time.perf_counter() - t1,
    }
    (work / META).write_text(json.dumps(meta, indent=1))
    return meta


@contextlib.contextmanager
def timing(owner: Any, name: str, spans: dict[str, tuple[float, float]]) -> Iterator[None]:
    """Record when each call of ``owner.name`` (a module attribute) starts and ends."""
    original = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spans[name] = (t0, time.perf_counter())

    setattr(owner, name, timed)
    try:
        yield
    finally:
        setattr(owner, name, original)


def train_stage(work: Path) -> dict[str, Any]:
    """Train, register and promote ``order_fraud`` (in a process of its own)."""
    from riskops.services.models import ModelRegistry

    module = importlib.import_module("riskops.services.models.train")
    runtime, spans, read_end = build(work, with_state=False), dict[str, tuple[float, float]](), 0.0
    with bar("training order_fraud: reading the log") as progress:
        task = progress.add_task("", total=None)

        def seen(done: int, total: int) -> None:
            nonlocal read_end
            progress.update(task, completed=done, total=total)
            read_end = time.perf_counter()

        with timing(module, "feature_frame", spans), timing(module.lgb, "train", spans):
            t0 = time.perf_counter()
            result = module.train(
                runtime.store,
                runtime.settings.resolved_secret(),
                model="order_fraud",
                progress=seen,
            )
            t1 = time.perf_counter()
    if set(spans) != {"feature_frame", "train"}:
        raise RuntimeError(f"train() no longer calls feature_frame and lgb.train: {sorted(spans)}")
    registry = ModelRegistry(work)
    version = registry.register(result)
    registry.promote("order_fraud", version)
    t2 = time.perf_counter()
    runtime.close()
    metric = {(m["part"], m["label"]): m for m in result.metrics}
    (f0, f1), (l0, l1) = spans["feature_frame"], spans["train"]
    return {
        "rows": [v["rows"] for v in result.parts.values()],
        "total_s": t1 - t0,
        "read_s": read_end - f0,
        "features_s": f1 - read_end,
        "lightgbm_s": l1 - l0,
        "rest_s": (t1 - t0) - (f1 - f0) - (l1 - l0),
        "register_s": t2 - t1,
        "version": version,
        "rss_mb": peak_rss_mb(),
        "test": metric[("test", "any")],
        "train_auc": metric[("train", "any")]["auc"],
        "top": [i["feature"] for i in result.importances[:3]],
    }


def latencies(fn: Callable[[Any], object], args: list[Any]) -> list[float]:
    """Milliseconds of each call of ``fn`` on each of ``args``."""
    out = []
    for arg in args:
        t0 = time.perf_counter()
        fn(arg)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def serve_stage(work: Path, meta: dict[str, Any], n: int) -> dict[str, Any]:
    """Catch the online state up as the server does, then time decisions with and without the
    model, and the model alone (in a process of its own)."""
    import numpy as np

    from riskops.api.app import tune_gc_for_serving
    from riskops.core.models.trees import row_values
    from riskops.services.decisions import DecisionService
    from riskops.services.lists import ListsCache
    from riskops.services.model_serving import ModelServing
    from riskops.services.standing import StandingCache

    # the collector tuned as an API process tunes it after start-up, here before the catch-up
    # too: with CPython's defaults, full collections over the growing state slowed the
    # catch-up of a 1M-order log from about 3,000 to 800 events/s by its end
    tune_gc_for_serving()
    runtime, t0 = build(work, with_state=True), time.perf_counter()
    with bar("catching up the online state from the log") as progress:
        task = progress.add_task("", total=None)
        runtime.projector.catch_up(
            lambda done, total: progress.update(task, completed=done, total=total)
        )
    catch_up_s = time.perf_counter() - t0
    rules = (ROOT / "examples" / "rules_order.yaml").read_text(encoding="utf-8")
    runtime.rules.activate("order", runtime.rules.push(rules, "bench").version, "bench")
    s, rt = runtime.settings, runtime
    bare = DecisionService(
        rt.store,
        rt.state,
        rt.ingest,
        rt.rules,
        ListsCache(rt.store, s.rules_reload_s),
        rt.clock,
        rt.policy,
        ModelServing(work / "no-models", s.rules_reload_s),
        StandingCache(work, s.rules_reload_s),
    )
    arms = {"with": runtime.decisions, "without": bare}
    events = Shop(meta["orders"], meta["seed"], meta["end"], "fresh").fresh(
        n + WARMUP, meta["last"]
    )
    for e in events[:WARMUP]:
        for service in arms.values():
            service.evaluate("order", orjson.loads(orjson.dumps(e)))
    tune_gc_for_serving()  # as an API process does after start-up
    ms: dict[str, list[float]] = {"with": [], "without": []}
    outcomes: dict[str, Counter[str]] = {"with": Counter(), "without": Counter()}
    contexts, paths, flip = list[dict[str, Any]](), dict[str, int](), random.Random(1)
    for e in events[WARMUP:]:
        for arm in flip.sample(["with", "without"], 2):
            raw = orjson.loads(orjson.dumps(e))
            t1 = time.perf_counter()
            pending = arms[arm].evaluate("order", raw)
            ms[arm].append((time.perf_counter() - t1) * 1000)
            outcomes[arm][pending.response["outcome"]] += 1
            fields = orjson.loads(pending.row.body)["fields"]
            paths[arm] = len(fields)
            if arm == "with":
                if pending.response.get("model", {}).get("score") is None:
                    raise RuntimeError(f"the champion did not score: {pending.response}")
                contexts.append(fields)
    runtime.close()
    slot = ModelServing(work).slot("order")
    if slot is None or slot.champion is None:
        raise RuntimeError("no champion in the registry")
    champion, booster = slot.champion, slot.champion.model.booster

    def lgb_raw(c: dict[str, Any]) -> float:
        x = np.asarray([row_values(champion.features, c)])
        return float(booster.predict(x, raw_score=True)[0])

    return {
        "catch_up_s": catch_up_s,
        "events": meta["events"],
        "rss_mb": peak_rss_mb(),
        "ms": ms,
        "outcomes": outcomes,
        "paths": paths,
        "version": champion.version,
        "score_ms": latencies(champion.score, contexts),
        "lgb_ms": latencies(lgb_raw, contexts),
        "explain_ms": latencies(champion.contributions, contexts[:2000]),
        "drift": max(abs(champion.score(c).raw - lgb_raw(c)) for c in contexts),
    }


def in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run a stage in a fresh process, so that its peak RSS is its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def p50_p99(values: list[float]) -> str:
    return f"{percentile(values, 50):.3f} / {percentile(values, 99):.3f}"


def report(meta: dict[str, Any], loaded: bool, fit: dict[str, Any], serve: dict[str, Any]) -> None:
    bad = sum(meta["labels"].values())
    rows = [
        ("orders / events in the log", f"{meta['orders']:,} / {meta['events']:,}"),
        ("orders labelled bad", f"{bad:,} ({100 * bad / meta['orders']:.2f} %)"),
    ]
    rows += [(f"  {k}", f"{v:,}") for k, v in sorted(meta["labels"].items())]
    rate = f"{meta['ingest_s']:.1f} ({meta['events'] / meta['ingest_s']:,.0f} events/s)"
    rows += [
        ("generate the log (s)", f"{meta['generate_s']:.1f}"),
        ("load it with FileIngest (s)" + ("" if loaded else ", an earlier run"), rate),
    ]
    table("the labelled marketplace", rows)
    t = fit["test"]
    table(
        f"train order_fraud ({fit['version']}, registered and promoted)",
        [
            ("rows: train / calibration / test", " / ".join(f"{v:,}" for v in fit["rows"])),
            ("reading the log (s)", f"{fit['read_s']:.1f}"),
            ("features, point in time (s)", f"{fit['features_s']:.1f}"),
            ("LightGBM (s)", f"{fit['lightgbm_s']:.1f}"),
            ("split, scoring, calibration, metrics (s)", f"{fit['rest_s']:.1f}"),
            ("train() in all (s)", f"{fit['total_s']:.1f}"),
            ("register + promote (s)", f"{fit['register_s']:.2f}"),
            ("peak RSS of the training process (MB)", f"{fit['rss_mb']:,.0f}"),
            ("test: rows / positives", f"{t['rows']:,} / {t['positives']:,}"),
            ("test AUC (train AUC)", f"{num(t['auc'])} ({num(fit['train_auc'])})"),
            (
                "test PR-AUC / recall at 1 % FPR",
                f"{num(t['pr_auc'])} / {num(t['recall_at_fpr_1pct'])}",
            ),
            ("top features by gain", ", ".join(fit["top"])),
            ("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY", "")),
        ],
    )
    ms, out = serve["ms"], serve["outcomes"]
    diff = [a - b for a, b in zip(ms["with"], ms["without"], strict=True)]
    rows = [
        (
            "catch up the online state, collector tuned (s)",
            f"{serve['catch_up_s']:.1f} ({serve['events'] / serve['catch_up_s']:,.0f} events/s)",
        ),
        ("peak RSS of the serving process (MB)", f"{serve['rss_mb']:,.0f}"),
        ("fresh orders, each decided without and with", f"{len(diff):,}"),
        (
            "context fields a decision stores: without / with",
            f"{serve['paths']['without']} / {serve['paths']['with']}",
        ),
    ]
    for q in (50, 99):
        w, wo = percentile(ms["with"], q), percentile(ms["without"], q)
        rows.append(
            (f"evaluate() p{q} (ms): without / with / added", f"{wo:.3f} / {w:.3f} / {w - wo:+.3f}")
        )
    rows.append(("added: median of the per-order differences (ms)", f"{percentile(diff, 50):+.3f}"))
    rows += [
        (f"outcomes {arm} the model", ", ".join(f"{k} {v:,}" for k, v in sorted(out[arm].items())))
        for arm in ("without", "with")
    ]
    rows += [
        (
            f"champion {serve['version']} score(), compiled: p50 / p99 (ms)",
            p50_p99(serve["score_ms"]),
        ),
        ("its explanation (for non-allow decisions): p50 / p99 (ms)", p50_p99(serve["explain_ms"])),
        ("LightGBM booster.predict, one row: p50 / p99 (ms)", p50_p99(serve["lgb_ms"])),
        ("compiled vs LightGBM raw score: largest difference", f"{serve['drift']:.1e}"),
    ]
    table("what scoring adds to a decision (in process, starter order rules)", rows)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line naming the option, exit code 2
        self.exit(2, f"{self.prog}: {message}\n")


def at_least(least: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", "").replace(",", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least:,} (got {value:,})")
        return value

    return parse


def main() -> None:
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=at_least(20_000), default=1_000_000)
    parser.add_argument("--decisions", type=at_least(100), default=5_000)
    parser.add_argument("--seed", type=at_least(0), default=7)
    parser.add_argument("--data", type=Path, default=None, help="keep / reuse the log here")
    args = parser.parse_args()
    if args.data is not None and args.data.exists() and not args.data.is_dir():
        parser.error(f"argument --data: {args.data} is not a folder")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # inherited by the stages' processes
    with tempfile.TemporaryDirectory() as tmp:
        run(args, args.data or Path(tmp), parser)


def run(args: argparse.Namespace, work: Path, parser: _Parser) -> None:
    started, loaded = time.perf_counter(), False
    work.mkdir(parents=True, exist_ok=True)
    meta = json.loads((work / META).read_text()) if (work / META).is_file() else None
    if meta is None:
        runtime = build(work, with_state=False)
        with runtime.store.begin() as uow:
            logged = uow.events.count()
        runtime.close()
        if logged:
            parser.error(f"argument --data: {work} holds a log this benchmark did not write")
        meta, loaded = load(work, args.orders, args.seed), True
    elif (meta["orders"], meta["seed"]) != (args.orders, args.seed):
        parser.error(
            f"argument --data: {work} holds --orders {meta['orders']} --seed "
            f"{meta['seed']}; give those, or an empty folder"
        )
    busy = [os.getloadavg()[0]]  # other work on the cores moves every figure
    fit = in_child(train_stage, work)
    busy.append(os.getloadavg()[0])
    serve = in_child(serve_stage, work, meta, args.decisions)
    busy.append(os.getloadavg()[0])
    report(meta, loaded, fit, serve)
    console.print(
        f"whole run: {time.perf_counter() - started:.0f} s; load average (1 min) before "
        f"training / after / at the end: {' / '.join(f'{x:.1f}' for x in busy)} "
        f"on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
