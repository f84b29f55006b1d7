"""Users' credit standing for live decisions: a snapshot of every user's credit score, tier
and privileges, written by ``riskops credit refresh`` (or ``POST /v1/credit/refresh``) and read
by every API process.

Credit is computed from the whole event log (DuckDB, seconds to minutes), far too slow for a
decision; the snapshot makes it a dictionary lookup. Refresh it on a schedule (hourly, say):
a user newer than the snapshot decides as the ``new`` tier until the next one.

The snapshot is ``<data_dir>/credit/users.parquet``: written under a temporary name and renamed
into place, so a reader sees the old or the new one, never half. Readers look at its
modification time at most every ``reload_s`` seconds and load a new one when it changed.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from riskops.core.analytics.value_risk import ValueRiskConfig, value_segments
from riskops.core.credit.model import Privileges
from riskops.core.decisions.privileges import Standing, unknown_standing
from riskops.core.events.envelope import to_us
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.value_risk import customer_values
from riskops.services.credit import user_credit, user_credit_table
from riskops.services.reloading import Reloading
from riskops.stores.base import Store
from riskops.stores.decision_base import AuditEntry

log = logging.getLogger("riskops.credit")
SNAPSHOT_COLUMNS = (
    "user_id",
    "score",
    "tier",
    "express_refund",
    "password_free_limit_usd",
    "pay_later",
    "new_user_cap_usd",
    "value_usd",
    "value_segment",
)


def snapshot_path(data_dir: Path) -> Path:
    return Path(data_dir) / "credit" / "users.parquet"


@dataclass(frozen=True, slots=True)
class Refreshed:
    users: int
    tiers: dict[str, int]
    as_of: str
    path: str
    value_segments: dict[str, int]
    value_measure: str
    """``clv_usd`` or ``spend_usd`` (when lifetime value cannot be fitted: see ``value_note``)."""
    value_note: str | None


def refresh_standing(
    data: AnalyticsData,
    data_dir: Path,
    *,
    as_of: datetime | None = None,
    privileges: Mapping[str, Mapping[str, object]] | None = None,
) -> Refreshed:
    """Compute every user's credit as of ``as_of`` (default: the log's end) and replace the
    snapshot. Returns how many users per tier."""
    rows = user_credit(data, as_of=as_of, privileges=privileges)
    measure, values, note, _ = customer_values(data)
    segments = value_segments(values, ValueRiskConfig())
    table = user_credit_table(rows)
    users = table["user_id"].to_pylist()
    table = table.append_column(
        "value_usd", pa.array([values.get(u) for u in users], pa.float64())
    ).append_column("value_segment", pa.array([segments.get(u, "new") for u in users]))
    table = table.select(list(SNAPSHOT_COLUMNS))
    when = rows[0].facts.as_of if rows else as_of
    stamp = when.isoformat() if when is not None else ""
    table = table.replace_schema_metadata(
        {"as_of": stamp, "value_measure": measure, "value_note": note or ""}
    )
    path = snapshot_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".users.", suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    tiers: dict[str, int] = {}
    for r in rows:
        tiers[r.tier] = tiers.get(r.tier, 0) + 1
    by_value: dict[str, int] = {}
    for u in users:
        segment = segments.get(u, "new")
        by_value[segment] = by_value.get(segment, 0) + 1
    return Refreshed(
        len(rows), dict(sorted(tiers.items())), stamp, str(path), by_value, measure, note
    )


def record_refresh(
    store: Store,
    at: datetime,
    actor: str,
    done: Refreshed,
    privileges: Mapping[str, Mapping[str, object]] | None = None,
) -> None:
    """The refresh in the audit log: who, when, how many users per tier and value segment,
    and the privilege overrides it applied."""
    after = json.dumps(
        {
            "users": done.users,
            "tiers": done.tiers,
            "value_segments": done.value_segments,
            "as_of": done.as_of,
            "privileges": privileges or {},
        },
        default=str,
    )
    with store.begin(write=True) as uow:
        uow.audit.add(AuditEntry(to_us(at), actor, "credit.refresh", "users", None, after))
        uow.commit()


class StandingCache:
    """The latest snapshot, as ``user id → Standing``; reloaded when the file changes (see
    :class:`~riskops.services.reloading.Reloading`: the first load waits, a new snapshot loads
    in the background, an unreadable one keeps the last and is tried again)."""

    def __init__(
        self,
        data_dir: Path,
        reload_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = snapshot_path(data_dir)
        self._unknown = unknown_standing()
        self._users: Reloading[dict[str, Standing] | None] = Reloading(
            self._mark, self._read, None, reload_s=reload_s, monotonic=monotonic,
            name=f"credit snapshot {self._path}",
        )  # fmt: skip

    def of(self, user_id: str | None) -> Standing | None:
        """The user's standing; the ``new`` tier's for a user the snapshot does not know;
        None when there is no snapshot (credit does not take part in decisions)."""
        users = self._users.get()
        if users is None:
            return None
        return users.get(user_id, self._unknown) if user_id else self._unknown

    def _mark(self) -> int:
        try:
            return self._path.stat().st_mtime_ns
        except FileNotFoundError:
            return -1

    def _read(self) -> dict[str, Standing] | None:
        if not self._path.exists():
            return None
        return _load(pq.read_table(self._path))


def _load(table: pa.Table) -> dict[str, Standing]:
    """The snapshot's rows; a snapshot older than the value columns reads as value ``new``,
    a missing score as None."""
    cols = table.to_pydict()
    missing = [c for c in SNAPSHOT_COLUMNS[:7] if c not in cols]
    if missing:
        raise ValueError(f"credit snapshot without {', '.join(missing)}: refresh it")
    n = len(cols["user_id"])
    cols.setdefault("value_segment", ["new"] * n)
    shared: dict[tuple[object, ...], Privileges] = {}  # a handful of distinct privilege sets
    out: dict[str, Standing] = {}
    for i, user in enumerate(cols["user_id"]):
        key = (
            cols["express_refund"][i],
            cols["password_free_limit_usd"][i],
            cols["pay_later"][i],
            cols["new_user_cap_usd"][i],
        )
        privileges = shared.get(key)
        if privileges is None:
            privileges = shared[key] = Privileges(
                bool(key[0]), float(key[1] or 0.0), bool(key[2]), _cap(key[3])
            )
        score = cols["score"][i]
        out[str(user)] = Standing(
            None if score is None else int(score),
            str(cols["tier"][i]),
            privileges,
            str(cols["value_segment"][i] or "new"),
        )
    return out


def _cap(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]
