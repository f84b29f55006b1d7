"""Conversion funnels over the ``steps`` table, and the pages where visits end.

A funnel is a list of steps (an event type, optionally narrowed by columns of ``steps``), a
conversion window and an order. A *unit* (a user, or a session) makes attempts: in strict order
an attempt starts at a step-1 event and takes, for each next step, the first matching event after
the previous one, as long as it falls within the window from the attempt's first event; in any
order an attempt starts at any funnel event and step k is done when a matching event falls within
the window from there. An attempt reaches step k when steps 1..k are all done; each unit counts
once, by its best attempt: the deepest, then the quickest, then the latest. "After" means later
in time, or at the same time later in the log. Breakdown values are read from the best attempt's
first event. Labelled abusers' steps are left out unless ``include_abusers``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError

FILTER_COLUMNS = ("page", "page_type", "sku", "device", "market")
ORDERS = ("strict", "any")
UNITS = ("user", "session")
BREAKDOWNS = {
    "session_channel": "s_channel",
    "user_channel": "u_channel",
    "market": "market",
    "device": "device",
}
MAX_STEPS = 12
_SPEC = re.compile(r"^\s*([\w.\-]+)\s*(?:\[(.*)\])?\s*$")
_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """One step: an event type of ``steps`` and ``(column, value)`` filters that narrow it."""

    event: str
    where: tuple[tuple[str, str], ...] = ()
    label: str | None = None

    @classmethod
    def parse(cls, spec: str) -> FunnelStep:
        """``"cart.item_added"`` or ``"page.viewed[page_type=product,device=d1]"``."""
        match = _SPEC.match(spec)
        if match is None:
            raise AnalyticsInputError("steps", f"{spec!r}: write type or type[column=value,...]")
        where: list[tuple[str, str]] = []
        for part in (match.group(2) or "").split(","):
            if not part.strip():
                continue
            column, eq, value = part.partition("=")
            if not eq:
                raise AnalyticsInputError(
                    "steps", f"{spec!r}: {part.strip()!r} is not column=value"
                )
            where.append((column.strip(), value.strip()))
        return cls(match.group(1), tuple(where))

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        narrow = ",".join(f"{c}={v}" for c, v in self.where)
        return f"{self.event}[{narrow}]" if narrow else self.event


@dataclass(frozen=True, slots=True)
class FunnelRow:
    """One step of the funnel (of one breakdown group). Rates and times are None where
    undefined: for step 1, and when nobody reached the step they are measured from."""

    group: str | None
    step: int
    name: str
    entered: int
    """Units whose best attempt reached this step (for step k > 1: converted from step k-1)."""
    drop_off: int | None
    conversion_from_previous: float | None
    conversion_from_first: float | None
    median_s_from_previous: float | None
    p90_s_from_previous: float | None


def parse_window(window: timedelta | str) -> int:
    """The window in microseconds, from a timedelta or ``"90s"``, ``"30m"``, ``"1h"``, ``"2d"``,
    ``"1w"``; it must be positive."""
    if isinstance(window, str):
        match = _WINDOW.match(window)
        if match is None:
            raise AnalyticsInputError("window", f"{window!r}: write a number and s, m, h, d or w")
        window = timedelta(seconds=float(match.group(1)) * _UNIT_S[match.group(2)])
    micros = window // timedelta(microseconds=1)
    if micros <= 0:
        raise AnalyticsInputError("window", "must be positive")
    return micros


def funnel(
    data: AnalyticsData,
    steps: Sequence[FunnelStep | str],
    *,
    window: timedelta | str = "1d",
    order: str = "strict",
    unit: str = "user",
    breakdown: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_abusers: bool = False,
) -> list[FunnelRow]:
    """Per step (and per breakdown group): units entered, drop-off, conversion from the previous
    and the first step, median and p90 seconds from the previous step. Without a breakdown there
    is always one row per step; with one, one group per value seen (None when unknown)."""
    micros = parse_window(window)
    if order not in ORDERS:
        raise AnalyticsInputError("order", f"{order!r}: use {' or '.join(ORDERS)}")
    if unit not in UNITS:
        raise AnalyticsInputError("unit", f"{unit!r}: use {' or '.join(UNITS)}")
    if breakdown is not None and breakdown not in BREAKDOWNS:
        raise AnalyticsInputError("breakdown", f"{breakdown!r}: use {', '.join(BREAKDOWNS)}")
    parsed = _check_steps(data, steps, order)
    ev = f"_funnel_{uuid.uuid4().hex}"
    sql, params = _events_sql(ev, parsed, unit, breakdown, since, until, include_abusers)
    data.con.execute(sql, params)
    try:
        rows = data.con.execute(_chain_sql(ev, len(parsed), micros, order)).fetchall()
    finally:
        data.con.execute(f"DROP TABLE IF EXISTS {ev}")
    return _rows(rows, parsed, breakdown)


def _events_sql(
    ev: str,
    steps: list[FunnelStep],
    unit: str,
    breakdown: str | None,
    since: datetime | None,
    until: datetime | None,
    include_abusers: bool,
) -> tuple[str, list[Any]]:
    """The funnel's events, one row each: unit, breakdown value, time, which steps it matches
    (``s1``.. and the bit mask ``mask``), position in the units' ordered events and the mask of
    the unit's next event."""
    flags: list[str] = []
    params: list[Any] = []
    for i, step in enumerate(steps, 1):
        conds = ["st.type = ?", *(f"st.{column} = ?" for column, _ in step.where)]
        params += [step.event, *(value for _, value in step.where)]
        flags.append(f"coalesce({' AND '.join(conds)}, false) AS s{i}")
    types = sorted({step.event for step in steps})
    params += types
    where, bounds = time_filter(since, until)
    params += bounds
    if not include_abusers:
        where += " AND (user_id IS NULL OR user_id NOT IN (SELECT user_id FROM excluded))"
    users = ""
    if breakdown == "user_channel":
        users = """LEFT JOIN (SELECT user_id AS uid, first(channel ORDER BY registered_at)
                   AS u_channel FROM users GROUP BY user_id) u ON raw.user_id = u.uid"""
    names = [f"s{i}" for i in range(1, len(steps) + 1)]
    mask = " + ".join(f"{n}::INTEGER * {1 << i}" for i, n in enumerate(names))
    sql = f"""CREATE TEMP TABLE {ev} AS
        WITH {SESSIONS_SQL},
        raw AS (
          SELECT st.rowid AS seq, epoch_us(st.ts) AS t, st.market, st.device, st.session_id,
                 coalesce(st.user_id, ses.s_user) AS user_id, ses.s_channel, {", ".join(flags)}
          FROM steps st LEFT JOIN ses ON st.session_id = ses.session_id
          WHERE st.ts IS NOT NULL AND st.type IN ({", ".join("?" for _ in types)})),
        kept AS (
          SELECT {unit}_id AS unit, {BREAKDOWNS.get(breakdown or "", "NULL")}::VARCHAR AS dim, t,
                 seq, {", ".join(names)}, {mask} AS mask
          FROM raw {users}
          WHERE {unit}_id IS NOT NULL AND {mask} > 0 {where})
        SELECT *, row_number() OVER w AS pos,
               CASE WHEN lead(unit) OVER w = unit THEN lead(mask) OVER w END AS next_mask
        FROM kept WINDOW w AS (ORDER BY unit, t, seq)"""
    return sql, params


def _check_steps(
    data: AnalyticsData, steps: Sequence[FunnelStep | str], order: str
) -> list[FunnelStep]:
    if isinstance(steps, str):
        raise AnalyticsInputError("steps", "give a list of steps, not one text")
    parsed = [FunnelStep.parse(s) if isinstance(s, str) else s for s in steps]
    if not 2 <= len(parsed) <= MAX_STEPS:
        raise AnalyticsInputError("steps", f"give 2 to {MAX_STEPS} steps, not {len(parsed)}")
    types = data.con.execute("SELECT DISTINCT type FROM steps WHERE type IS NOT NULL").fetchall()
    present = {str(r[0]) for r in types}
    if not present:
        raise AnalyticsInputError("steps", "the steps table is empty: no visits to build on")
    for step in parsed:
        if step.event not in present:
            have = ", ".join(sorted(present))
            raise AnalyticsInputError("steps", f"{step.event!r} never occurs (steps has: {have})")
        for column, _ in step.where:
            if column not in FILTER_COLUMNS:
                raise AnalyticsInputError(
                    "steps", f"{step.name}: filter on {', '.join(FILTER_COLUMNS)}, not {column!r}"
                )
    if order == "any":
        for i, a in enumerate(parsed):
            for j in range(i + 1, len(parsed)):
                if _overlap(a, parsed[j]):
                    raise AnalyticsInputError(
                        "steps",
                        f"steps {i + 1} and {j + 1} can match the same event: an any-order "
                        "funnel needs steps that cannot (narrow one of them)",
                    )
    return parsed


def _overlap(a: FunnelStep, b: FunnelStep) -> bool:
    if a.event != b.event:
        return False
    bw = dict(b.where)
    return all(bw.get(column, value) == value for column, value in a.where)


def time_filter(since: datetime | None, until: datetime | None) -> tuple[str, list[Any]]:
    sql, params = "", []
    bounds = [(since, ">="), (until, "<")]
    for value, op in bounds:
        if value is not None:
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            sql += f" AND t {op} epoch_us(?::TIMESTAMP)"
            params.append(value)
    if since is not None and until is not None and params[0] >= params[1]:
        raise AnalyticsInputError("until", "must be later than since")
    return sql, params


SESSIONS_SQL = """ses AS (SELECT session_id, arg_min(user_id, ts) AS s_user,
                       arg_min(channel, ts) AS s_channel
                FROM sessions WHERE session_id IS NOT NULL GROUP BY session_id)"""


def _chain_sql(ev: str, k: int, micros: int, order: str) -> str:
    """Attempts and their steps by ASOF joins, then each unit's best attempt, aggregated."""
    ctes = []
    if order == "strict":
        ctes.append(
            f"c1 AS (SELECT unit, dim, pos AS p0, t AS t0, pos AS p1, t AS f1 FROM {ev} "
            "WHERE s1 AND coalesce(next_mask, 0) <> 1)"
        )
        for i in range(2, k + 1):
            hit = f"e.unit = c.unit AND e.t - c.t0 <= {micros}"
            ctes.append(
                f"c{i} AS (SELECT c.*, CASE WHEN {hit} THEN e.pos END AS p{i}, "
                f"CASE WHEN {hit} THEN e.t END AS f{i} FROM c{i - 1} c ASOF LEFT JOIN "
                f"(SELECT unit, pos, t FROM {ev} WHERE s{i}) e "
                f"ON c.p{i - 1} < e.pos)"
            )
    else:
        ctes.append(
            f"c0 AS (SELECT unit, dim, pos AS p0, t AS t0 FROM {ev} "
            "WHERE next_mask IS DISTINCT FROM mask)"
        )
        for i in range(1, k + 1):
            ctes.append(
                f"c{i} AS (SELECT c.*, CASE WHEN e.unit = c.unit AND e.t - c.t0 <= {micros} "
                f"THEN e.t END AS f{i} "
                f"FROM c{i - 1} c ASOF LEFT JOIN (SELECT unit, pos, t FROM {ev} WHERE s{i}) e "
                "ON c.p0 <= e.pos)"
            )
    depth = " ".join(f"WHEN f{i} IS NULL THEN {i - 1}" for i in range(1, k + 1))
    reached = ", ".join(
        f"greatest({', '.join(f'f{j}' for j in range(1, i + 1))}) AS r{i}" for i in range(1, k + 1)
    )
    dur = " ".join(f"WHEN {i} THEN r{i} - t0" for i in range(1, k + 1))
    aggs = ["count(*) AS n1"]
    for i in range(2, k + 1):
        secs = f"(r{i} - r{i - 1}) / 1e6"
        aggs += [
            f"count(*) FILTER (WHERE depth >= {i})",
            f"quantile_cont({secs}, 0.5) FILTER (WHERE depth >= {i})",
            f"quantile_cont({secs}, 0.9) FILTER (WHERE depth >= {i})",
        ]
    return f"""WITH {", ".join(ctes)},
    r AS (SELECT unit, dim, p0, t0, CASE {depth} ELSE {k} END AS depth, {reached} FROM c{k}),
    best AS (SELECT * FROM r QUALIFY row_number() OVER (
               PARTITION BY unit ORDER BY depth DESC, CASE depth {dur} ELSE 0 END, p0 DESC) = 1)
    SELECT dim, {", ".join(aggs)} FROM best WHERE depth >= 1 GROUP BY dim
    ORDER BY n1 DESC, dim NULLS LAST"""


def _rows(
    rows: list[tuple[Any, ...]], steps: list[FunnelStep], breakdown: str | None
) -> list[FunnelRow]:
    if not rows and breakdown is None:
        rows = [(None, 0, *([0, None, None] * (len(steps) - 1)))]
    out = []
    for row in rows:
        group = None if row[0] is None else str(row[0])
        first = int(row[1])
        previous = first
        for i, step in enumerate(steps, 1):
            if i == 1:
                entered, median, p90 = first, None, None
            else:
                entered = int(row[3 * i - 4])
                median, p90 = num(row[3 * i - 3]), num(row[3 * i - 2])
            out.append(
                FunnelRow(
                    group=group,
                    step=i,
                    name=step.name,
                    entered=entered,
                    drop_off=None if i == 1 else previous - entered,
                    conversion_from_previous=None if i == 1 else _share(entered, previous),
                    conversion_from_first=_share(entered, first),
                    median_s_from_previous=median,
                    p90_s_from_previous=p90,
                )
            )
            previous = entered
    return out


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def num(value: object) -> float | None:
    return None if value is None else float(str(value))
