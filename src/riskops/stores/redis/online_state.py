"""Redis :class:`~riskops.stores.base.OnlineState` on one hash per entity (single instance).

Keys (layout 2; ``<type>``, ``<id>``, ``<metric>`` are escaped: ``%`` -> ``%25``, ``:`` ->
``%3A``):

* ``<prefix>:cursor`` - the compare-and-set cursor (missing = 0), and ``<prefix>:layout`` =
  ``2``. While the layout key is missing the cursor counts as 0, so state written by an older
  layout is rebuilt into these keys (the old keys expire by their TTLs).
* ``<prefix>:e:<type>:<id>`` - a hash per entity holding every series (metric) of it at every
  resolution: per series its newest ``occurred_at_us`` (the retention rule is per series) and
  per bucket one field with its count, last time, sum / min / max and distinct digests (see
  :mod:`.online_state_lua` for the fields). EXPIRE = :data:`ENTITY_TTL_S`, refreshed when the
  entity is created or its newest time moves to another week.
* ``<prefix>:h:<type>:<id>:<metric>:<r><b>`` - the HyperLogLog of a bucket with more distinct
  values than :data:`INLINE_DISTINCT`, EXPIRE = retention + one bucket from the spill.

A window's distinct count is exact while its buckets kept their digests inline (a union of
64-bit digests; collisions are negligible); with a spilled bucket it is the PFCOUNT of the
union (about 0.81 % standard error).

Windows, edges and retention are those of :mod:`riskops.core.state.windows`: the window ranges
of every read are computed in Python by the same functions the memory backend uses; the read
script applies each series' retention to them and folds the buckets server side. EXPIREs are
wall-clock: they bound memory when event time follows wall time (live use); the retention rule
itself is applied in event time, on write and on read, exactly as in memory. Within an entity,
stale buckets and series idle beyond every retention are pruned lazily, so an entity hash stays
bounded by the retention too.

``apply`` is one Lua script (:mod:`.online_state_lua`): the chunk is validated and
pre-aggregated in Python - per entity, series and (resolution, bucket): count, sum, min, max,
last and the set of distinct digests - so the script makes two or three calls per *entity* of
the chunk, whatever its updates, series and resolutions. ``window`` and ``windows`` are one
round trip (the read script).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from hashlib import blake2b
from itertools import pairwise
from typing import Any

import orjson
import redis

from riskops.core.state.buckets import EMPTY, Group, Item, group_updates, window_stats
from riskops.core.state.model import StateUpdate, WindowStats
from riskops.core.state.windows import RESOLUTIONS, plan_windows
from riskops.stores.redis.online_state_lua import APPLY_LUA, READ_LUA

LAYOUT = "2"
INLINE_DISTINCT = 32
"""Distinct digests a bucket keeps inline before it spills to a HyperLogLog."""
PRUNE_MIN = 256
"""Bucket fields an entity hash may hold before its first pruning pass."""
READ_ALL_UP_TO = 2048
"""Entities with at most this many bucket fields are read with one HGETALL."""
_REFRESH_S = 7 * 86_400
ENTITY_TTL_S = max(r.retention_s for r in RESOLUTIONS) + _REFRESH_S + 86_400
"""EXPIRE of an entity hash: set when it is created and whenever its newest time moves to
another week (so at least the longest retention is always left, when event time follows wall
time)."""
_SIZES = tuple(r.bucket_us for r in RESOLUTIONS)
_STALE = tuple(r.bucket_us + r.retention_us - 1 for r in RESOLUTIONS)
"""Per resolution: bucket b is beyond retention once newest >= b * bucket_us + this."""
_RATIOS = tuple(b // a for a, b in pairwise(_SIZES))
"""Bucket indexes by nested floor division: exact, and by small divisors."""
_KEEP = tuple((r.bucket_us, r.retention_us - 1) for r in RESOLUTIONS)
"""Per resolution: (bucket_us, retention_us - 1); buckets from (newest - that) // bucket_us on
are within retention."""
_HEADER = [
    ENTITY_TTL_S,
    INLINE_DISTINCT,
    PRUNE_MIN,
    _REFRESH_S * 1_000_000,
    max(r.retention_us for r in RESOLUTIONS),
    *(r.retention_s + r.bucket_s for r in RESOLUTIONS),
    *_SIZES,
    *(r.retention_us - 1 for r in RESOLUTIONS),
]


def _esc(text: str) -> str:
    if "%" in text or ":" in text:
        return text.replace("%", "%25").replace(":", "%3A")
    return text


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "\\*?[]" else ch for ch in text)


def _digest(value: str) -> str:
    """The distinct value's 64-bit BLAKE2b digest as 16 hex characters."""
    return blake2b(value.encode("utf-8"), digest_size=8).hexdigest()


def _unesc(text: str) -> str:
    if "%" in text:
        return text.replace("%3A", ":").replace("%25", "%")
    return text


def _fold(items: list[Item[str]]) -> tuple[int, list[dict[int, list[Any]]]]:
    """A series' updates of one chunk folded per resolution and bucket: ``(newest, [{bucket:
    [count, last, sum, min, max, {digest: None} | None]} per resolution])``, without the
    buckets already beyond retention relative to the chunk's newest update."""
    newest = max(item[0] for item in items)
    keep0, keep1, keep2, keep3, keep4 = ((newest - k) // size for size, k in _KEEP)
    rows: list[dict[int, list[Any]]] = [{}, {}, {}, {}, {}]
    r0, r1, r2, r3, r4 = rows
    s0 = _SIZES[0]
    q1, q2, q3, q4 = _RATIOS
    for t, v, h in items:
        b0 = t // s0
        b1 = b0 // q1
        b2 = b1 // q2
        b3 = b2 // q3
        b4 = b3 // q4
        for b, keep, rs in ((b0, keep0, r0), (b1, keep1, r1), (b2, keep2, r2), (b3, keep3, r3)):
            if b >= keep:
                _fold_into(rs, b, t, v, h)
        if b4 >= keep4:
            _fold_into(r4, b4, t, v, h)
    return newest, rows


def _fold_into(rows: dict[int, list[Any]], b: int, t: int, v: float | None, h: str | None) -> None:
    row = rows.get(b)
    if row is None:
        rows[b] = [1, t, v, v, v, None if h is None else {h: None}]
        return
    row[0] += 1
    if t > row[1]:
        row[1] = t
    if v is not None:
        if row[2] is None:
            row[2], row[3], row[4] = v, v, v
        else:
            row[2] += v
            if v < row[3]:
                row[3] = v
            if v > row[4]:
                row[4] = v
    if h is not None:
        if row[5] is None:
            row[5] = {h: None}
        else:
            row[5][h] = None


class RedisOnlineState:
    """Online state in Redis under ``prefix``. ``close()`` closes the client; pass
    ``owns_client=False`` when the client is shared and its creator closes it. Reads return
    packed binary, so the client must not decode responses."""

    in_process = False

    def __init__(self, client: redis.Redis, prefix: str, *, owns_client: bool = True) -> None:
        if not prefix:
            raise ValueError("prefix must be a non-empty string")
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("the Redis client must return bytes (decode_responses=False)")
        self._client = client
        self._prefix = prefix
        self._owns_client = owns_client
        self._cursor_key = f"{prefix}:cursor"
        self._layout_key = f"{prefix}:layout"
        self._apply = client.register_script(APPLY_LUA)
        self._read_script = client.register_script(READ_LUA)

    def cursor(self) -> int:
        raw, layout = self._client.mget([self._cursor_key, self._layout_key])
        if raw is None or layout != LAYOUT.encode():
            return 0
        return int(raw)

    def apply(self, updates: Sequence[StateUpdate], from_seq: int, to_seq: int) -> bool:
        """Atomically: if the cursor is ``from_seq``, apply every update and set it to
        ``to_seq`` (True); otherwise change nothing (False)."""
        if to_seq < from_seq:
            raise ValueError(f"to_seq ({to_seq}) must not be before from_seq ({from_seq})")
        payload = self._payload(updates)
        keys = [self._cursor_key, self._layout_key]
        return bool(self._apply(keys=keys, args=[from_seq, to_seq, payload]))

    def _payload(self, updates: Sequence[StateUpdate]) -> bytes:
        """Validate the chunk and pre-aggregate it per entity, series and (resolution, bucket)
        into the apply script's flat JSON array (see :mod:`.online_state_lua`)."""
        groups = group_updates(updates, _digest)
        by_entity: dict[tuple[str, str], list[tuple[str, Group[str]]]] = {}
        for (entity_type, entity_id, metric), group in groups.items():
            series = by_entity.get((entity_type, entity_id))
            if series is None:
                by_entity[entity_type, entity_id] = [(metric, group)]
            else:
                series.append((metric, group))
        prefix = self._prefix
        out: list[Any] = list(_HEADER)
        add = out.extend
        s0 = _SIZES[0]
        r1, r2, r3, r4 = _RATIOS
        for (entity_type, entity_id), series in by_entity.items():
            entity = f"{_esc(entity_type)}:{_esc(entity_id)}"
            add((f"{prefix}:e:{entity}", f"{prefix}:h:{entity}:", len(series)))
            for metric, group in series:
                m = _esc(metric)
                if type(group) is tuple:  # one update: nothing to fold (see the script)
                    t, v, h = group
                    b = t // s0
                    # fmt: off
                    add((
                        m, t, -1, v, h or "",
                        f"{m}:0{b}", f"{m}:1{(b := b // r1)}", f"{m}:2{(b := b // r2)}",
                        f"{m}:3{(b := b // r3)}", f"{m}:4{b // r4}",
                    ))
                    # fmt: on
                    continue
                newest, rows = _fold(group)  # type: ignore[arg-type]
                add((m, newest, sum(map(len, rows))))
                for r, (by_bucket, size, stale) in enumerate(
                    zip(rows, _SIZES, _STALE, strict=True)
                ):
                    for b, (count, last, total, low, high, digests) in by_bucket.items():
                        add((f"{m}:{r}{b}", b * size + stale, count, last, total, low, high))
                        out.append("".join(digests) if digests else "")
        return orjson.dumps(out)

    def window(
        self, entity_type: str, entity_id: str, metric: str, window_s: int, as_of_us: int
    ) -> WindowStats:
        got = self._read(entity_type, entity_id, [_esc(metric)], (window_s,), as_of_us)
        return got.get(metric, {}).get(window_s, EMPTY)

    def windows(
        self,
        entity_type: str,
        entity_id: str,
        window_s: Iterable[int],
        as_of_us: int,
        metrics: Iterable[str] | None = None,
    ) -> dict[str, dict[int, WindowStats]]:
        """Every metric the entity has (or only those of ``metrics`` it has), for each window:
        ``{metric: {window_s: stats}}``."""
        wanted = None if metrics is None else list(metrics)
        return self._read(entity_type, entity_id, wanted, window_s, as_of_us)

    def _read(
        self,
        entity_type: str,
        entity_id: str,
        metrics: list[str] | None,
        window_s: Iterable[int],
        as_of_us: int,
    ) -> dict[str, dict[int, WindowStats]]:
        """One script call: every (given, or else every) metric, every window."""
        plans = plan_windows(window_s, as_of_us)
        entity = f"{_esc(entity_type)}:{_esc(entity_id)}"
        arg = [
            f"{self._prefix}:e:{entity}",
            f"{self._prefix}:h:{entity}:",
            metrics,
            READ_ALL_UP_TO,
            [
                [
                    p.index,
                    p.resolution.bucket_us,
                    p.resolution.retention_us - 1,
                    p.los[-1],
                    p.hi,
                    p.los,
                ]
                for p in plans
            ],
        ]
        reply = self._read_script(args=[orjson.dumps(arg)])
        windows = [w for p in plans for w in p.windows]
        unpack = struct.Struct(f"<{6 * len(windows)}d").unpack
        result: dict[str, dict[int, WindowStats]] = {}
        for i in range(0, len(reply), 2):
            raw, packed = reply[i], reply[i + 1]
            values = unpack(packed)
            out = result[_unesc(raw.decode())] = {}
            for j, w in enumerate(windows):
                count, total, low, high, last, distinct = values[6 * j : 6 * j + 6]
                out[w] = (
                    window_stats(
                        int(count),
                        total,
                        None if low != low else low,  # NaN: no value in the window
                        None if high != high else high,
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
        self._client.delete(self._cursor_key, self._layout_key)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
