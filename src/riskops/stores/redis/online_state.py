"""Redis :class:`~riskops.stores.base.OnlineState` on time-bucket hashes (single instance).

Keys (``<type>``, ``<id>``, ``<metric>`` are escaped: ``%`` -> ``%25``, ``:`` -> ``%3A``):

* ``<prefix>:cursor`` - the compare-and-set cursor (missing = 0).
* ``<prefix>:h:<type>:<id>:<metric>:<bucket_s>:<epoch>`` - a hash per series, resolution and
  *epoch* of :data:`EPOCH_BUCKETS` consecutive buckets, fields ``c:<b>`` count, ``s:<b>`` sum,
  ``mn:<b>`` / ``mx:<b>`` min / max (only once a value was seen), ``l:<b>`` last occurrence (µs).
  EXPIRE = retention + one epoch, refreshed on write.
* ``<prefix>:d:<type>:<id>:<metric>:<bucket_s>:<b>`` - a HyperLogLog of the bucket's distinct
  values, EXPIRE = retention + one bucket. A window's distinct count is PFCOUNT over its buckets
  (their union): exact in practice for small counts, about 0.81 % standard error beyond.
* ``<prefix>:m:<type>:<id>`` - a hash listing the entity's metrics: ``n:<metric>`` = the newest
  ``occurred_at_us`` of the series (needed for the retention rule), ``d:<metric>`` = 1 once it
  received a distinct value (so reads issue PFCOUNT only for those). EXPIRE 91 days, refreshed.

Windows, edges and retention are those of :mod:`riskops.core.state.windows`; reads pass through
the same :func:`~riskops.core.state.buckets.summarize` as the memory backend. EXPIREs are
wall-clock: they bound memory when event time follows wall time (live use); the retention rule
itself is applied in event time, on write and on read, exactly as in memory.

``apply`` is one Lua script (:mod:`.online_state_lua`); ``windows`` takes two round trips (the
entity's metric hash, then one pipeline of HGETALLs and PFCOUNTs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import redis

from riskops.core.state.buckets import Agg, summarize, validate_update
from riskops.core.state.model import StateUpdate, WindowStats
from riskops.core.state.windows import (
    RESOLUTIONS,
    ResolutionPlan,
    keep_from_bucket,
    plan_windows,
)
from riskops.stores.redis.online_state_lua import APPLY_LUA

EPOCH_BUCKETS = 64
METRICS_TTL_S = 91 * 86_400
_N_RES = len(RESOLUTIONS)
_BUCKET_US = tuple(r.bucket_us for r in RESOLUTIONS)
_BUCKET_S = tuple(r.bucket_s for r in RESOLUTIONS)
_STALE_OFFSET_US = tuple(r.retention_us - 1 for r in RESOLUTIONS)
_HASH_TTL_S = tuple(r.retention_s + EPOCH_BUCKETS * r.bucket_s for r in RESOLUTIONS)
_HLL_TTL_S = tuple(r.retention_s + r.bucket_s for r in RESOLUTIONS)


def _esc(text: str) -> str:
    return text.replace("%", "%25").replace(":", "%3A")


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "\\*?[]" else ch for ch in text)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class _Series:
    __slots__ = ("has_distinct", "hash_base", "hll_base", "metric", "metrics_key", "newest")

    def __init__(self, prefix: str, entity_type: str, entity_id: str, metric: str) -> None:
        entity = f"{_esc(entity_type)}:{_esc(entity_id)}"
        self.metrics_key = f"{prefix}:m:{entity}"
        self.hash_base = f"{prefix}:h:{entity}:{_esc(metric)}:"
        self.hll_base = f"{prefix}:d:{entity}:{_esc(metric)}:"
        self.metric = metric
        self.newest = -(2**63)
        self.has_distinct = False


class _Pending:
    """A chunk's updates pre-aggregated into one bucket."""

    __slots__ = ("count", "distinct", "last", "max", "min", "sum")

    def __init__(self) -> None:
        self.count = 0
        self.sum = 0.0
        self.min: float | None = None
        self.max: float | None = None
        self.last = -(2**63)
        self.distinct: set[str] | None = None


class RedisOnlineState:
    """Online state in Redis under ``prefix``. ``close()`` closes the client only when
    ``owns_client`` is True (whoever created a shared client closes it)."""

    def __init__(self, client: redis.Redis, prefix: str, *, owns_client: bool = False) -> None:
        if not prefix:
            raise ValueError("prefix must be a non-empty string")
        self._client = client
        self._prefix = prefix
        self._owns_client = owns_client
        self._cursor_key = f"{prefix}:cursor"
        self._apply = client.register_script(APPLY_LUA)

    def cursor(self) -> int:
        raw = self._client.get(self._cursor_key)
        return 0 if raw is None else int(raw)

    def apply(self, updates: Sequence[StateUpdate], from_seq: int, to_seq: int) -> bool:
        """Atomically: if the cursor is ``from_seq``, apply every update and set it to
        ``to_seq`` (True); otherwise change nothing (False)."""
        if to_seq < from_seq:
            raise ValueError(f"to_seq ({to_seq}) must not be before from_seq ({from_seq})")
        for update in updates:
            validate_update(update)
        args = self._apply_args(updates, int(from_seq), int(to_seq))
        return bool(self._apply(keys=[self._cursor_key], args=args))

    def _apply_args(self, updates: Sequence[StateUpdate], from_seq: int, to_seq: int) -> list[Any]:
        index: dict[tuple[str, str, str], int] = {}
        series: list[_Series] = []
        pending: dict[tuple[int, int, int], _Pending] = {}
        for u in updates:
            key = (u.entity_type, u.entity_id, u.metric)
            si = index.get(key)
            if si is None:
                si = index[key] = len(series)
                series.append(_Series(self._prefix, *key))
            s = series[si]
            t, v, d = u.occurred_at_us, u.value, u.distinct
            if t > s.newest:
                s.newest = t
            if d is not None:
                s.has_distinct = True
            for ri in range(_N_RES):
                pkey = (si, ri, t // _BUCKET_US[ri])
                p = pending.get(pkey)
                if p is None:
                    p = pending[pkey] = _Pending()
                p.count += 1
                if t > p.last:
                    p.last = t
                if v is not None:
                    p.sum += v
                    if p.min is None or v < p.min:
                        p.min = v
                    if p.max is None or v > p.max:
                        p.max = v
                if d is not None:
                    if p.distinct is None:
                        p.distinct = {d}
                    else:
                        p.distinct.add(d)
        args: list[Any] = [from_seq, to_seq, len(series)]
        expire: dict[str, int] = {}
        for s in series:
            args += (
                s.metrics_key,
                "n:" + s.metric,
                s.newest,
                "d:" + s.metric if s.has_distinct else "",
            )
            expire[s.metrics_key] = METRICS_TTL_S
        rows: list[Any] = []
        n_rows = 0
        for (si, ri, b), p in pending.items():
            s = series[si]
            stale_at = (b + 1) * _BUCKET_US[ri] + _STALE_OFFSET_US[ri]
            if s.newest >= stale_at:
                continue  # older than the retention at this resolution, whatever Redis holds
            hkey = f"{s.hash_base}{_BUCKET_S[ri]}:{b // EPOCH_BUCKETS}"
            expire[hkey] = _HASH_TTL_S[ri]
            values = p.distinct or ()
            hll = f"{s.hll_base}{_BUCKET_S[ri]}:{b}" if values else ""
            if hll:
                expire[hll] = _HLL_TTL_S[ri]
            no_value = p.min is None
            rows += (si + 1, stale_at, hkey, b, p.count, p.sum, "" if no_value else p.min)
            rows += ("" if no_value else p.max, p.last, hll, len(values), *values)
            n_rows += 1
        args.append(n_rows)
        args += rows
        args.append(len(expire))
        for item in expire.items():
            args += item
        return args

    def window(
        self, entity_type: str, entity_id: str, metric: str, window_s: int, as_of_us: int
    ) -> WindowStats:
        plans = plan_windows((window_s,), as_of_us)
        mkey = f"{self._prefix}:m:{_esc(entity_type)}:{_esc(entity_id)}"
        newest, has_distinct = self._client.hmget(mkey, ["n:" + metric, "d:" + metric])
        if newest is None:
            return WindowStats.empty()
        meta = {metric: (int(newest), has_distinct is not None)}
        return self._read(entity_type, entity_id, meta, plans, as_of_us)[metric][window_s]

    def windows(
        self,
        entity_type: str,
        entity_id: str,
        window_s: Iterable[int],
        as_of_us: int,
    ) -> dict[str, dict[int, WindowStats]]:
        """Every metric the entity has, for each window: ``{metric: {window_s: stats}}``."""
        plans = plan_windows(window_s, as_of_us)
        mkey = f"{self._prefix}:m:{_esc(entity_type)}:{_esc(entity_id)}"
        raw = self._client.hgetall(mkey)
        newest: dict[str, int] = {}
        distinct: set[str] = set()
        for field, value in raw.items():
            name = _text(field)
            if name.startswith("n:"):
                newest[name[2:]] = int(value)
            elif name.startswith("d:"):
                distinct.add(name[2:])
        meta = {m: (t, m in distinct) for m, t in newest.items()}
        return self._read(entity_type, entity_id, meta, plans, as_of_us) if meta else {}

    def _read(
        self,
        entity_type: str,
        entity_id: str,
        meta: dict[str, tuple[int, bool]],
        plans: tuple[ResolutionPlan, ...],
        as_of_us: int,
    ) -> dict[str, dict[int, WindowStats]]:
        entity = f"{_esc(entity_type)}:{_esc(entity_id)}"
        pipe = self._client.pipeline(transaction=False)
        jobs: list[tuple[str, ResolutionPlan, int, int, list[int]]] = []
        for metric, (newest, has_distinct) in meta.items():
            hash_base = f"{self._prefix}:h:{entity}:{_esc(metric)}:"
            hll_base = f"{self._prefix}:d:{entity}:{_esc(metric)}:"
            for plan in plans:
                keep = keep_from_bucket(newest, plan.resolution)
                lo_min = max(plan.los[-1], keep)
                epochs = range(lo_min // EPOCH_BUCKETS, plan.hi // EPOCH_BUCKETS + 1)
                for epoch in epochs:
                    pipe.hgetall(f"{hash_base}{plan.resolution.bucket_s}:{epoch}")
                counted: list[int] = []
                if has_distinct:
                    for w, lo in zip(plan.windows, plan.los, strict=True):
                        in_window = range(max(lo, keep), plan.hi + 1)
                        if in_window:
                            res_s = plan.resolution.bucket_s
                            pipe.pfcount(*[f"{hll_base}{res_s}:{b}" for b in in_window])
                            counted.append(w)
                jobs.append((metric, plan, keep, len(epochs), counted))
        replies = iter(pipe.execute())
        result: dict[str, dict[int, WindowStats]] = {m: {} for m in meta}
        for metric, plan, keep, n_epochs, counted in jobs:
            buckets: dict[int, Agg] = {}
            for _ in range(n_epochs):
                _parse_hash(next(replies), buckets)
            out = result[metric]
            summarize(plan, buckets, keep, as_of_us, out)
            for w in counted:
                n = int(next(replies))
                if out[w].count:
                    out[w] = replace(out[w], distinct=n)
        return result

    def reset(self) -> None:
        """Delete every key under the prefix (SCAN + UNLINK in batches), cursor included."""
        batch: list[bytes | str] = []
        for key in self._client.scan_iter(match=_glob_escape(self._prefix) + ":*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                self._client.unlink(*batch)
                batch.clear()
        if batch:
            self._client.unlink(*batch)
        self._client.delete(self._cursor_key)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


def _parse_hash(raw: dict[Any, Any], into: dict[int, Agg]) -> None:
    """Fold one epoch hash (``c:<b>``, ``s:<b>``, ``mn:<b>``, ``mx:<b>``, ``l:<b>``) into aggs."""
    for field, value in raw.items():
        kind, _, bucket = _text(field).partition(":")
        b = int(bucket)
        agg = into.get(b)
        if agg is None:
            agg = into[b] = Agg()
        if kind == "c":
            agg.count = int(value)
        elif kind == "s":
            agg.sum = float(value)
        elif kind == "mn":
            agg.min = float(value)
        elif kind == "mx":
            agg.max = float(value)
        elif kind == "l":
            agg.last_us = int(value)
