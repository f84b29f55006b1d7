"""Review heat and early warning.

:func:`review_heat` counts, per sku, merchant, category or overall, how many positive
(rating ≥ 4) and negative (rating ≤ 2) reviews mention each keyword or aspect
(:mod:`riskops.core.analytics.text` does the English and Chinese text). :func:`merchant_weeks`
gives each merchant's weekly share of negative reviews and :func:`negative_alerts` flags a
merchant whose share in one week rises above its own trailing baseline (:class:`WarningRule`).
Definitions and edge cases are in ``docs/analytics-channels-reviews.md``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa

from riskops.core.analytics.text import ASPECTS, Aspect, aspects_of, check_lexicon, tokenize
from riskops.services.analytics.data import AnalyticsData
from riskops.services.analytics.inputs import AnalyticsInputError

POSITIVE_MIN = 4
NEGATIVE_MAX = 2
LEVELS = ("sku", "merchant", "category", "all")
KINDS = ("aspect", "keyword")
UNKNOWN = "(unknown)"
_KEY = {
    "sku": f"coalesce(sku, '{UNKNOWN}')",
    "merchant": f"coalesce(merchant_id, '{UNKNOWN}')",
    "category": f"coalesce(category, '{UNKNOWN}')",
    "all": "'(all)'",
}
_POS, _NEG = f"rating >= {POSITIVE_MIN}", f"rating <= {NEGATIVE_MAX}"


@dataclass(frozen=True, slots=True)
class HeatRow:
    """How often one term comes up in one group's reviews; shares ``None`` when the group has
    no review of that polarity."""

    level: str
    key: str
    kind: str
    term: str
    reviews: int
    positive_reviews: int
    negative_reviews: int
    positive: int
    """Positive reviews of the group that mention the term."""
    negative: int
    positive_share: float | None
    negative_share: float | None


def _reviews_sql(data: AnalyticsData, include_abusers: bool) -> str:
    keep = (
        ""
        if include_abusers
        else """AND coalesce(user_id, '') NOT IN (SELECT user_id FROM excluded)
        AND coalesce(order_id, '') NOT IN (SELECT order_id FROM attack_orders)"""
    )
    return f"SELECT * FROM reviews WHERE rating BETWEEN 1 AND 5 {keep}"


def _lexicon(lexicon: Iterable[Aspect] | None) -> list[Aspect]:
    try:
        return check_lexicon(ASPECTS if lexicon is None else lexicon)
    except ValueError as e:
        raise AnalyticsInputError("lexicon", str(e)) from None


def _terms(texts: Iterable[str], kind: str, lexicon: Sequence[Aspect]) -> pa.Table:
    """(text, term) for each distinct text and each distinct term of ``kind`` in it."""
    cut = (lambda t: aspects_of(t, lexicon)) if kind == "aspect" else tokenize
    pairs = [(text, term) for text in texts for term in dict.fromkeys(cut(text))]
    columns = {"text": [p[0] for p in pairs], "term": [p[1] for p in pairs]}
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})


@contextmanager
def _registered(data: AnalyticsData, **tables: pa.Table) -> Iterator[None]:
    """Arrow tables visible to SQL under these names for the length of a ``with`` block."""
    for name, table in tables.items():
        data.con.register(name, table)
    try:
        yield
    finally:
        for name in tables:
            data.con.unregister(name)


def _review_terms(
    data: AnalyticsData, source: str, kind: str, lexicon: Sequence[Aspect], params: Any = None
) -> pa.Table:
    rows = data.con.execute(
        f"SELECT DISTINCT text FROM ({source}) WHERE text IS NOT NULL", params
    ).fetchall()
    return _terms((str(r[0]) for r in rows), kind, lexicon)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def review_heat(
    data: AnalyticsData,
    *,
    by: str = "merchant",
    kind: str = "aspect",
    categories: Mapping[str, str] | None = None,
    lexicon: Iterable[Aspect] | None = None,
    top: int = 20,
    min_reviews: int = 1,
    include_abusers: bool = False,
) -> list[HeatRow]:
    """Per group (``by``: sku, merchant, category - from ``categories``, sku → category, or
    else the categories the data's listings and order lines name - or all), the ``top``
    terms of ``kind`` (aspect or keyword) by polarised mentions; groups with fewer than
    ``min_reviews`` reviews are left out. Biggest groups first."""
    if by not in LEVELS:
        raise AnalyticsInputError("by", f"unknown level {by!r} (use {', '.join(LEVELS)})")
    if kind not in KINDS:
        raise AnalyticsInputError("kind", f"unknown kind {kind!r} (use {', '.join(KINDS)})")
    _whole("top", top)
    _whole("min_reviews", min_reviews)
    if by == "category" and categories is None:
        categories = _known_categories(data)  # from listings and order lines in the data
        if not categories:
            raise AnalyticsInputError(
                "categories",
                "by='category' needs a sku → category mapping: the data names no categories",
            )
    cats = _categories(categories or {})
    aspects = _lexicon(lexicon)
    source = _reviews_sql(data, include_abusers)
    if not data.con.execute(f"SELECT count(*) FROM ({source})").fetchall()[0][0]:
        raise AnalyticsInputError("reviews", "no reviews with a rating from 1 to 5")
    sql = f"""
    WITH r AS (SELECT {_KEY[by]} AS key, rating, text FROM (SELECT rv.*, c.category
               FROM ({source}) rv LEFT JOIN _review_categories c ON c.sku = rv.sku)),
    tot AS (SELECT key, count(*) AS n, count(*) FILTER (WHERE {_POS}) AS pos,
              count(*) FILTER (WHERE {_NEG}) AS neg FROM r GROUP BY key HAVING count(*) >= $min),
    hits AS (SELECT key, t.term, count(*) FILTER (WHERE {_POS}) AS p,
               count(*) FILTER (WHERE {_NEG}) AS ng
             FROM r JOIN _review_terms t ON t.text = r.text
             GROUP BY key, t.term HAVING p + ng > 0),
    ranked AS (SELECT *, row_number() OVER (PARTITION BY key ORDER BY p + ng DESC, ng DESC,
                 term) AS rk FROM hits)
    SELECT key, term, n, pos, neg, p, ng FROM ranked JOIN tot USING (key)
    WHERE rk <= $top ORDER BY n DESC, key, rk"""
    terms = _review_terms(data, source, kind, aspects)
    with _registered(data, _review_terms=terms, _review_categories=cats):
        rows = data.con.execute(sql, {"min": min_reviews, "top": top}).fetchall()
    return [
        HeatRow(by, str(k), kind, str(t), n, pos, neg, p, ng, _ratio(p, pos), _ratio(ng, neg))
        for k, t, n, pos, neg, p, ng in rows
    ]


def _known_categories(data: AnalyticsData) -> dict[str, str]:
    rows = data.con.execute(
        "SELECT sku, category FROM skus WHERE sku IS NOT NULL AND category IS NOT NULL"
    ).fetchall()
    return {str(sku): str(category) for sku, category in rows}


def _categories(categories: Mapping[str, str]) -> pa.Table:
    if not isinstance(categories, Mapping):
        raise AnalyticsInputError("categories", "must map each sku to its category")
    bad = [s for s, c in categories.items() if not isinstance(c, str) or not c]
    if bad:
        raise AnalyticsInputError("categories", f"sku {bad[0]!r} has no category name")
    skus, names = [str(s) for s in categories], list(categories.values())
    return pa.table({"sku": pa.array(skus, pa.string()), "category": pa.array(names, pa.string())})


@dataclass(frozen=True, slots=True)
class WarningRule:
    """When a week's negative share counts as a rise: at least ``min_reviews`` that week and
    ``min_baseline_reviews`` in the ``baseline_weeks`` before it, a share at least ``margin``
    above the baseline's, and a one-sided pooled two-proportion z-test with p ≤ ``alpha``."""

    margin: float = 0.10
    min_reviews: int = 10
    min_baseline_reviews: int = 20
    baseline_weeks: int = 8
    alpha: float = 0.05

    def checked(self) -> WarningRule:
        for name in ("min_reviews", "min_baseline_reviews", "baseline_weeks"):
            _whole(name, getattr(self, name))
        for name, value in (("margin", self.margin), ("alpha", self.alpha)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
                raise AnalyticsInputError(name, "must be a number at least 0 and below 1")
        if self.alpha == 0:
            raise AnalyticsInputError("alpha", "must be above 0")
        return self


def _whole(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AnalyticsInputError(name, "must be a whole number of at least 1")


@dataclass(frozen=True, slots=True)
class RiseTest:
    """The rule applied to one week; ``None`` where a figure is undefined."""

    rise: float | None
    z: float | None
    p_value: float | None
    flagged: bool
    reason: str


def rise_test(
    negatives: int, reviews: int, base_negatives: int, base_reviews: int, rule: WarningRule
) -> RiseTest:
    """Apply ``rule`` to a week (``negatives`` of ``reviews``) against its baseline."""
    if reviews <= 0 or not 0 <= negatives <= reviews or not 0 <= base_negatives <= base_reviews:
        raise AnalyticsInputError("reviews", "counts must satisfy 0 <= negatives <= reviews")
    if base_reviews == 0:
        return RiseTest(None, None, None, False, "no baseline")
    share, base = negatives / reviews, base_negatives / base_reviews
    rise = share - base
    pooled = (negatives + base_negatives) / (reviews + base_reviews)
    se = math.sqrt(pooled * (1 - pooled) * (1 / reviews + 1 / base_reviews))
    z = rise / se if se > 0 else None
    p = 0.5 * math.erfc(z / math.sqrt(2)) if z is not None else None
    if reviews < rule.min_reviews:
        reason = "too few reviews"
    elif base_reviews < rule.min_baseline_reviews:
        reason = "baseline too small"
    elif p is None:
        reason = "no variation"
    elif rise < rule.margin:
        reason = "rise below margin"
    elif p > rule.alpha:
        reason = "not significant"
    else:
        return RiseTest(rise, z, p, True, "flagged")
    return RiseTest(rise, z, p, False, reason)


@dataclass(frozen=True, slots=True)
class MerchantWeek:
    """One merchant's reviews in one week (Monday, UTC)."""

    merchant_id: str
    week: date
    reviews: int
    negatives: int
    negative_share: float


def merchant_weeks(
    data: AnalyticsData, *, merchant: str | None = None, include_abusers: bool = False
) -> list[MerchantWeek]:
    """Weekly negative share per merchant (or of one), by merchant then week; undated
    reviews are left out."""
    rows = data.con.execute(
        f"""SELECT {_KEY["merchant"]} AS m, date_trunc('week', ts)::DATE AS w, count(*),
        count(*) FILTER (WHERE {_NEG}) FROM ({_reviews_sql(data, include_abusers)})
        WHERE ts IS NOT NULL AND (CAST($m AS VARCHAR) IS NULL OR merchant_id = $m)
        GROUP BY m, w ORDER BY m, w""",
        {"m": merchant},
    ).fetchall()
    return [MerchantWeek(str(m), w, n, neg, neg / n) for m, w, n, neg in rows]


@dataclass(frozen=True, slots=True)
class NegativeAlert:
    """A merchant's tested week against its baseline (see :class:`WarningRule`)."""

    merchant_id: str
    week: date
    reviews: int
    negatives: int
    negative_share: float
    baseline_reviews: int
    baseline_share: float | None
    rise: float | None
    z: float | None
    p_value: float | None
    flagged: bool
    reason: str
    top_negative_aspects: str | None
    """The week's most mentioned aspects in negative reviews, e.g. ``quality (3), delivery
    (1)`` (at most three)."""


def negative_alerts(
    data: AnalyticsData,
    *,
    rule: WarningRule | None = None,
    week: date | None = None,
    lexicon: Iterable[Aspect] | None = None,
    include_abusers: bool = False,
    only_flagged: bool = False,
) -> list[NegativeAlert]:
    """Each merchant with reviews in ``week`` (its Monday; default the latest week with a
    review) tested against its own previous ``rule.baseline_weeks``; flagged ones first."""
    rule = (rule or WarningRule()).checked()
    aspects = _lexicon(lexicon)
    source = f"SELECT * FROM ({_reviews_sql(data, include_abusers)}) WHERE ts IS NOT NULL"
    if week is not None and not isinstance(week, date):
        raise AnalyticsInputError("week", "must be a date (any day of the week to test)")
    if week is None:
        week = data.con.execute(f"SELECT max(ts)::DATE FROM ({source})").fetchall()[0][0]
        if week is None:
            raise AnalyticsInputError("reviews", "no dated reviews with a rating from 1 to 5")
    day = week.date() if isinstance(week, datetime) else week
    monday = day - timedelta(days=day.weekday())
    params = {"week": monday, "start": monday - timedelta(weeks=rule.baseline_weeks)}
    week_negatives = f"SELECT * FROM ({source}) WHERE ts::DATE >= $week AND ts::DATE < $end"
    span = {"week": monday, "end": monday + timedelta(weeks=1)}
    terms = _review_terms(data, f"{week_negatives} AND {_NEG}", "aspect", aspects, span)
    with _registered(data, _review_terms=terms):
        con = data.con
        counts = con.execute(
            f"""WITH r AS (SELECT {_KEY["merchant"]} AS m, date_trunc('week', ts)::DATE AS w,
                  rating FROM ({source}))
            SELECT m, count(*) FILTER (WHERE w = $week),
              count(*) FILTER (WHERE w = $week AND {_NEG}),
              count(*) FILTER (WHERE w >= $start AND w < $week),
              count(*) FILTER (WHERE w >= $start AND w < $week AND {_NEG})
            FROM r GROUP BY m HAVING count(*) FILTER (WHERE w = $week) > 0""",
            params,
        ).fetchall()
        hits = con.execute(
            f"""SELECT {_KEY["merchant"]} AS m, t.term, count(*) AS c FROM ({week_negatives}) r
            JOIN _review_terms t ON t.text = r.text WHERE {_NEG}
            GROUP BY m, t.term ORDER BY m, c DESC, t.term""",
            span,
        ).fetchall()
    top: dict[str, list[str]] = {}
    for m, term, c in hits:
        top.setdefault(str(m), []).append(f"{term} ({c})")
    out = [_alert(str(m), monday, c, rule, top.get(str(m), [])) for m, *c in counts]
    out.sort(key=lambda a: (not a.flagged, -(a.z if a.z is not None else -math.inf), a.merchant_id))
    return [a for a in out if a.flagged] if only_flagged else out


def _alert(m: str, week: date, c: list[Any], rule: WarningRule, top: list[str]) -> NegativeAlert:
    n, neg, bn, bneg = (int(x) for x in c)
    t = rise_test(neg, n, bneg, bn, rule)
    alert = (m, week, n, neg, neg / n, bn, _ratio(bneg, bn), t.rise, t.z, t.p_value, t.flagged)
    return NegativeAlert(*alert, reason=t.reason, top_negative_aspects=", ".join(top[:3]) or None)
