"""Where visits end: per page (or page type) the page views, the exits - the last page view
of a session, or of a user's UTC day for views without a session - the exit rate and the median
dwell, so a team finds the pages people leave from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.funnels import SESSIONS_SQL, num, time_filter
from riskops.services.analytics.inputs import AnalyticsInputError

PAGE_KEYS = ("page", "page_type")


@dataclass(frozen=True, slots=True)
class PageExitRow:
    """Views of a page (or page type), how many ended their visit, and the dwell there."""

    page: str | None
    views: int
    exits: int
    exit_rate: float
    views_with_dwell: int
    median_dwell_ms: float | None


def page_exits(
    data: AnalyticsData,
    *,
    by: str = "page",
    since: datetime | None = None,
    until: datetime | None = None,
    include_abusers: bool = False,
) -> list[PageExitRow]:
    """Per page (or page_type) of ``page.viewed`` steps: views, exits - the last page view of
    a session, or of a user's UTC day for views without a session - exit rate and the median
    ``dwell_ms`` (over views that report a non-negative dwell). Views with neither a session
    nor a user cannot be placed in a visit and are left out. Most-viewed first."""
    if by not in PAGE_KEYS:
        raise AnalyticsInputError("by", f"{by!r}: use {' or '.join(PAGE_KEYS)}")
    where, params = time_filter(since, until)
    if not include_abusers:
        where += " AND (user_id IS NULL OR user_id NOT IN (SELECT user_id FROM excluded))"
    rows = data.con.execute(
        f"""WITH {SESSIONS_SQL},
        v AS (
          SELECT st.rowid AS seq, epoch_us(st.ts) AS t, st.ts::DATE AS day, st.{by} AS key,
                 st.dwell_ms, st.session_id, coalesce(st.user_id, ses.s_user) AS user_id
          FROM steps st LEFT JOIN ses ON st.session_id = ses.session_id
          WHERE st.type = 'page.viewed' AND st.ts IS NOT NULL),
        marked AS (
          SELECT key, dwell_ms, row_number() OVER (
              PARTITION BY session_id, CASE WHEN session_id IS NULL THEN user_id END,
                           CASE WHEN session_id IS NULL THEN day END
              ORDER BY t DESC, seq DESC) = 1 AS is_exit
          FROM v WHERE (session_id IS NOT NULL OR user_id IS NOT NULL) {where})
        SELECT key, count(*) AS views, count(*) FILTER (WHERE is_exit) AS exits,
               count(dwell_ms) FILTER (WHERE dwell_ms >= 0),
               quantile_cont(dwell_ms, 0.5) FILTER (WHERE dwell_ms >= 0)
        FROM marked GROUP BY key ORDER BY views DESC, key NULLS LAST""",
        params,
    ).fetchall()
    if not rows:
        raise AnalyticsInputError("steps", "no page.viewed steps to measure exits on")
    return [
        PageExitRow(
            page=None if r[0] is None else str(r[0]),
            views=int(r[1]),
            exits=int(r[2]),
            exit_rate=int(r[2]) / int(r[1]),
            views_with_dwell=int(r[3]),
            median_dwell_ms=num(r[4]),
        )
        for r in rows
    ]
