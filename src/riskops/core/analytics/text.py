"""Review text into keywords and aspects, in English and Chinese (pure: no database).

Text is normalised (NFKC, so full-width letters and punctuation become plain ones, then
lower-cased) and cut into runs by script, whatever language a review says it is in: a run of
Han characters is segmented with ``jieba`` (loaded on first use, with its own dictionary, so it
works offline); any other run of letters and digits gives word tokens. Stop words, numbers and
one-letter Latin tokens are dropped.

Aspects come from a small bilingual lexicon (:data:`ASPECTS`): an English entry matches a token
exactly or, when it ends in ``*``, as a prefix (``deliver*`` matches *delivered*, *delivery*);
a Chinese entry matches as a substring of the text, because segmentation may glue it to a
neighbour (``价格便宜`` is one jieba token but mentions 价格).
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<word>[^\W_{_HAN}]+(?:'[^\W_{_HAN}]+)*)")


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


STOP_WORDS_EN: frozenset[str] = _words(
    """a about after again all also am an and any are as at be been before being but by can
    could did do does doesn't don't each even for from get got had has have he her here him his
    how i if in into is isn't it it's its just me more most my no nor not of off on once only
    or other our out over so some such than that the their them then there these they this
    those through to too up very was wasn't we were what when where which while who why will
    with would you your"""
)
"""English words too common to be keywords (negations included: polarity comes from the
rating, not from the words)."""

STOP_WORDS_ZH: frozenset[str] = _words(
    "的 了 很 也 都 和 是 在 我 你 他 她 它 们 就 又 还 啊 吧 呢 吗 呀 哦 嗯 这 那 个 有 没 不 "
    "会 要 说 给 被 把 让 与 及 或 而 但 非常 特别 比较 真的 一个 这个 那个 我们 就是 还是 "
    "已经 不是 没有 可以 一下 东西 宝贝 收到"
)
"""Chinese function words and filler common in shop reviews (宝贝 "the item", 收到 "received")."""


@dataclass(frozen=True, slots=True)
class Aspect:
    """One thing reviews talk about: English entries (``*`` = prefix) and Chinese substrings."""

    name: str
    en: tuple[str, ...]
    zh: tuple[str, ...]


ASPECTS: tuple[Aspect, ...] = (
    Aspect(
        "delivery",
        ("deliver*", "ship*", "courier*", "dispatch*", "arriv*", "transit", "tracking", "late"),
        ("物流", "快递", "发货", "送货", "配送", "到货", "派送", "运输"),
    ),
    Aspect(
        "quality",
        ("quality", "broke", "broken", "defect*", "durable", "sturdy", "flimsy", "faulty"),
        ("质量", "品质", "做工", "材质", "坏了", "次品", "瑕疵"),
    ),
    Aspect(
        "price",
        ("price*", "cheap*", "expensive", "overpriced", "value", "money", "cost*", "afford*"),
        ("价格", "价钱", "便宜", "太贵", "很贵", "性价比", "价廉", "划算"),
    ),
    Aspect(
        "packaging",
        ("packag*", "packing", "packed", "box", "boxes", "wrap*", "parcel*"),
        ("包装", "盒子", "纸箱", "破损", "外包装"),
    ),
    Aspect(
        "service",
        ("service", "seller*", "support", "rude", "respon*", "communicat*", "helpful", "staff"),
        ("客服", "服务", "卖家", "商家", "态度", "售后"),
    ),
    Aspect(
        "size",
        ("size*", "fit", "fits", "fitting", "tight", "loose", "small", "large"),
        ("尺码", "尺寸", "大小", "码数", "偏大", "偏小"),
    ),
    Aspect(
        "authenticity",
        ("authentic*", "genuine", "fake*", "counterfeit*", "replica*", "original", "knockoff*"),
        ("正品", "假货", "假的", "仿冒", "高仿", "山寨", "盗版", "真品"),
    ),
    Aspect(
        "accuracy",
        ("described", "description", "pictur*", "photo*", "accurate", "advertised", "mislead*"),
        ("描述", "不符", "图片", "实物", "色差", "与图"),
    ),
    Aspect(
        "returns",
        ("return*", "refund*", "exchang*"),
        ("退货", "退款", "换货", "退换"),
    ),
)
"""The default lexicon; pass your own sequence of :class:`Aspect` to the analyses to replace it."""


def normalise(text: str) -> str:
    """NFKC, lower case, typographic apostrophes made plain."""
    return unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")


@functools.cache
def _segmenter() -> Callable[[str], list[str]]:
    with warnings.catch_warnings():  # its compatibility shim may use a deprecated module
        warnings.simplefilter("ignore")
        import jieba  # type: ignore[import-untyped]

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()  # loads the bundled dictionary (cached in the temp folder)

    def cut(run: str) -> list[str]:
        return [str(t) for t in jieba.lcut(run)]

    return cut


def tokenize(text: str | None) -> list[str]:
    """The keyword tokens of a text, in order (repeats kept); ``None`` or blank gives ``[]``."""
    if not text:
        return []
    out: list[str] = []
    for m in _TOKEN.finditer(normalise(text)):
        han = m.group("han")
        if han is not None:
            out.extend(t for t in _segmenter()(han) if t.strip() and t not in STOP_WORDS_ZH)
            continue
        word = m.group("word")
        if len(word) > 1 and not word.isdigit() and word not in STOP_WORDS_EN:
            out.append(word)
    return out


def _matches(entry: str, word: str) -> bool:
    return word.startswith(entry[:-1]) if entry.endswith("*") else word == entry


def aspects_of(text: str | None, lexicon: Sequence[Aspect] = ASPECTS) -> list[str]:
    """The names of the lexicon's aspects the text mentions, in lexicon order."""
    if not text:
        return []
    norm = normalise(text)
    words = {m.group("word") for m in _TOKEN.finditer(norm) if m.group("word") is not None}
    found = []
    for aspect in lexicon:
        if any(z in norm for z in aspect.zh) or any(
            _matches(e, w) for e in aspect.en for w in words
        ):
            found.append(aspect.name)
    return found


def check_lexicon(lexicon: Iterable[Aspect]) -> list[Aspect]:
    """The lexicon as a list; ``ValueError`` naming the problem when it cannot be used."""
    out = list(lexicon)
    names = [a.name for a in out]
    if not out:
        raise ValueError("the lexicon has no aspects")
    if len(set(names)) != len(names):
        raise ValueError("two aspects have the same name")
    for a in out:
        if not a.name or not (a.en or a.zh):
            raise ValueError(f"aspect {a.name!r} has no name or no entries")
        if any(not e.strip("*") or e != normalise(e) for e in a.en):
            raise ValueError(f"aspect {a.name!r}: English entries must be lower-case words")
        if any(not z for z in a.zh):
            raise ValueError(f"aspect {a.name!r} has an empty Chinese entry")
    return out
