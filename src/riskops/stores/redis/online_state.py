"""Redis :class:`~riskops.stores.base.OnlineState` on time-bucket hashes (single instance).

Keys (``<type>``, ``<id>``, ``<metric>`` are escaped: ``%`` -> ``%25``, ``:`` -> ``%3A``):

* ``<prefix>:cursor`` - the compare-and-set cursor (missing = 0).
* ``<prefix>:h:<type>:<id>:<metric>:<bucket_s>:<epoch>`` - a hash per series, resolution and
  *epoch* of :data:`EPOCH_BUCKETS` consecutive buckets, fields ``c:<b>`` count, ``s:<b>`` sum,
  ``mn:<b>`` / ``mx:<b>`` min / max (only once a value was seen), ``l:<b>`` last occurrence (µs).
  EXPIRE = retention + one epoch, reset whenever one of its buckets is created.
* ``<prefix>:d:<type>:<id>:<metric>:<bucket_s>:<b>`` - a HyperLogLog of the bucket's distinct
  values, EXPIRE = retention + one bucket. A window's distinct count is PFCOUNT over its buckets
  (their union): exact in practice for small counts, about 0.81 % standard error beyond.
* ``<prefix>:m:<type>:<id>`` - a hash listing the entity's metrics: ``n:<metric>`` = the newest
  ``occurred_at_us`` of the series (needed for the retention rule), ``d:<metric>`` = 1 once it
  received a distinct value (so reads count distinct values only for those). EXPIRE 91 days,
  refreshed on write.

Windows, edges and retention are those of :mod:`riskops.core.state.windows`: the bucket ranges
of every read are computed in Python by the same functions the memory backend uses; the Lua
read script only folds the buckets of those ranges. EXPIREs are
wall-clock: they bound memory when event time follows wall time (live use); the retention rule
itself is applied in event time, on write and on read, exactly as in memory.

``apply`` is one Lua script (:mod:`.online_state_lua`). ``window`` and ``windows`` take two round
trips: the entity's metric hash, then one read script returning six values per window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import redis

from riskops.core.state.buckets import EMPTY, NEVER_US, validate_update
from riskops.core.state.model import StateUpdate, WindowStats
from riskops.core.state.windows import (
    RESOLUTIONS,
    ResolutionPlan,
    keep_from_bucket,
    plan_windows,
)
from riskops.stores.redis.online_state_lua import APPLY_LUA, READ_LUA

EPOCH_BUCKETS = 64
METRICS_TTL_S = 91 * 86_400
_RES = tuple((r.bucket_us, r.bucket_s, r.retention_us - 1) for r in RESOLUTIONS)
"""Per resolution: bucket µs, bucket s, and stale_at = end of the bucket + retention - 1 µs."""
_TTLS = [
    [r.retention_s + EPOCH_BUCKETS * r.bucket_s, r.retention_s + r.bucket_s] for r in RESOLUTIONS
]
"""Per resolution: TTL of an epoch hash and of a bucket's HyperLogLog, in seconds."""


def _esc(text: str) -> str:
    return text.replace("%", "%25").replace(":", "%3A")


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "\\*?[]" else ch for ch in text)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class RedisOnlineState:
    """Online state in Redis under ``prefix``. ``close()`` closes the client; pass
    ``owns_client=False`` when the client is shared and its creator closes it."""

    def __init__(self, client: redis.Redis, prefix: str, *, owns_client: bool = True) -> None:
        if not prefix:
            raise ValueError("prefix must be a non-empty string")
        self._client = client
        self._prefix = prefix
        self._owns_client = owns_client
        self._cursor_key = f"{prefix}:cursor"
        self._apply = client.register_script(APPLY_LUA)
        self._read_script = client.register_script(READ_LUA)

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
        payload = self._payload(updates)
        return bool(self._apply(keys=[self._cursor_key], args=[from_seq, to_seq, payload]))

    def _payload(self, updates: Sequence[StateUpdate]) -> bytes:
        """Pre-aggregate the chunk per (series, resolution, bucket) into the script's JSON."""
        prefix = self._prefix
        index: dict[tuple[str, str, str], int] = {}
        series: list[list[Any]] = []  # [metrics_key, newest_field, newest_us, distinct_field, ttl]
        hll_bases: list[str] = []
        hash_bases: list[str] = []
        rows: list[list[Any]] = []  # the script's bucket rows, see online_state_lua
        row_of: dict[tuple[int, int, int], list[Any]] = {}
        for u in updates:
            key = (u.entity_type, u.entity_id, u.metric)
            si = index.get(key)
            if si is None:
                si = index[key] = len(series)
                entity = f"{_esc(u.entity_type)}:{_esc(u.entity_id)}"
                series.append(
                    [f"{prefix}:m:{entity}", "n:" + u.metric, NEVER_US, "", METRICS_TTL_S]
                )
                hash_bases.append(f"{prefix}:h:{entity}:{_esc(u.metric)}:")
                hll_bases.append(f"{prefix}:d:{entity}:{_esc(u.metric)}:")
            s = series[si]
            t, v, d = u.occurred_at_us, u.value, u.distinct
            if t > s[2]:
                s[2] = t
            if d is not None:
                s[3] = "d:" + u.metric
            for ri, (size, res_s, stale_offset) in enumerate(_RES):
                b = t // size
                row = row_of.get((si, ri, b))
                if row is None:
                    row_of[si, ri, b] = row = [
                        si + 1,
                        (b + 1) * size + stale_offset,
                        f"{hash_bases[si]}{res_s}:{b // EPOCH_BUCKETS}",
                        b,
                        1,
                        0.0 if v is None else v,
                        v,
                        v,
                        t,
                        "",
                        ri + 1,
                        [] if d is None else [d],
                    ]
                    rows.append(row)
                    continue
                row[4] += 1
                if t > row[8]:
                    row[8] = t
                if v is not None:
                    row[5] += v
                    if row[6] is None or v < row[6]:
                        row[6] = v
                    if row[7] is None or v > row[7]:
                        row[7] = v
                if d is not None:
                    row[11].append(d)
        kept = []
        for row in rows:
            si = row[0] - 1
            if series[si][2] >= row[1]:
                continue  # older than the retention at this resolution
            values = row[11]
            if values:
                row[9] = f"{hll_bases[si]}{_RES[row[10] - 1][1]}:{row[3]}"
                if len(values) > 1:
                    row[11] = list(dict.fromkeys(values))
            kept.append(row)
        return orjson.dumps([series, kept, _TTLS])

    def window(
        self, entity_type: str, entity_id: str, metric: str, window_s: int, as_of_us: int
    ) -> WindowStats:
        plans = plan_windows((window_s,), as_of_us)
        mkey = f"{self._prefix}:m:{_esc(entity_type)}:{_esc(entity_id)}"
        newest, has_distinct = self._client.hmget(mkey, ["n:" + metric, "d:" + metric])
        if newest is None:
            return EMPTY
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
        newest: dict[str, int] = {}
        distinct: set[str] = set()
        for field, value in self._client.hgetall(mkey).items():
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
        """One script call folds every (metric, resolution) group over its window ranges."""
        entity = f"{_esc(entity_type)}:{_esc(entity_id)}"
        groups: list[list[Any]] = []
        asked: list[tuple[dict[int, WindowStats], tuple[int, ...]]] = []
        result: dict[str, dict[int, WindowStats]] = {}
        for metric, (newest, has_distinct) in meta.items():
            out = result[metric] = {}
            hash_base = f"{self._prefix}:h:{entity}:{_esc(metric)}:"
            hll_base = f"{self._prefix}:d:{entity}:{_esc(metric)}:" if has_distinct else ""
            for plan in plans:
                res = plan.resolution
                keep = keep_from_bucket(newest, res)
                hi = min(plan.hi, newest // res.bucket_us)  # no bucket is newer than newest
                if max(plan.los[-1], keep) > hi:
                    for w in plan.windows:
                        out[w] = EMPTY
                    continue
                los = [max(lo, keep) for lo in plan.los]
                suffix = f"{res.bucket_s}:"
                groups.append([hash_base + suffix, hll_base and hll_base + suffix, hi, los])
                asked.append((out, plan.windows))
        if not groups:
            return result
        replies = iter(self._read_script(args=[orjson.dumps(groups)]))
        for out, windows in asked:
            for w in windows:
                count, total, low, high, last, distinct = (next(replies) for _ in range(6))
                out[w] = (
                    WindowStats(
                        int(count),
                        float(total),
                        None if low is None else float(low),
                        None if high is None else float(high),
                        int(distinct),
                        min(int(last), as_of_us),
                    )
                    if count
                    else EMPTY
                )
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
