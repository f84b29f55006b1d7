"""Normalise identifiers so that the same real-world thing always gives the same string.

Every function here is pure and raises :class:`ValueError` (naming the field and the reason) for
input that is not the identifier it claims to be. The results are meant to be hashed with
:func:`riskops.core.identity.hashing.hash_identifier`, not shown to people; see
docs/fingerprint.md for the rules and examples.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from typing import Final

# --------------------------------------------------------------------------------------------
# addresses

ADDRESS_FIELDS: Final[tuple[str, ...]] = (
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
)
"""The keys :func:`normalize_address` accepts, in the order they appear in the result."""

# token → canonical token (applied to address lines, city and region; tokens are already
# NFKC-normalised, case-folded and free of punctuation)
_ABBREVIATIONS: Final[dict[str, str]] = {
    "street": "st",
    "saint": "st",
    "road": "rd",
    "avenue": "ave",
    "av": "ave",
    "boulevard": "blvd",
    "drive": "dr",
    "drv": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "highway": "hwy",
    "apartment": "apt",
    "flat": "apt",
    "suite": "ste",
    "floor": "fl",
    "flr": "fl",
    "building": "bldg",
    "bld": "bldg",
    "room": "rm",
    "block": "blk",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "number": "no",
    "nr": "no",
    # Malay / Indonesian
    "jalan": "jl",
    "jln": "jl",
    "lorong": "lrg",
    "taman": "tmn",
    "kampung": "kg",
    "kampong": "kg",
    "kpg": "kg",
    "kecamatan": "kec",
    "kelurahan": "kel",
    # German (also see the "-strasse" suffix rule)
    "strasse": "str",
}

# a "#" right after one of these means "number" and is dropped; elsewhere it means "apartment"
_UNIT_DESIGNATORS: Final[frozenset[str]] = frozenset(
    {"apt", "unit", "ste", "fl", "bldg", "rm", "blk", "no"}
)

_COUNTRIES: Final[dict[str, str]] = {
    "china": "CN",
    "people s republic of china": "CN",
    "prc": "CN",
    "中国": "CN",
    "中國": "CN",
    "germany": "DE",
    "deutschland": "DE",
    "united kingdom": "GB",
    "great britain": "GB",
    "uk": "GB",
    "indonesia": "ID",
    "japan": "JP",
    "日本": "JP",
    "malaysia": "MY",
    "philippines": "PH",
    "the philippines": "PH",
    "singapore": "SG",
    "thailand": "TH",
    "ประเทศไทย": "TH",
    "united states": "US",
    "united states of america": "US",
    "usa": "US",
    "vietnam": "VN",
    "viet nam": "VN",
}

# Han (with extensions and compatibility forms), kana, Hangul, and the CJK iteration marks
_CJK: Final = (
    "\u1100-\u11ff\u3005-\u3007\u3021-\u3029\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U000323af"
)
_SPACE_AT_CJK_RE: Final = re.compile(rf"\s+(?=[{_CJK}])|(?<=[{_CJK}])\s+")
_LETTER_DIGIT_RE: Final = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")
_STRASSE_SUFFIX: Final = "strasse"


def _basic_text(text: str) -> str:
    """NFKC, case-fold, every character that is not a letter, digit, mark or ``#`` → space,
    ``#`` as its own token, whitespace collapsed."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", text).casefold():
        if ch == "#":
            out.append(" # ")
        elif unicodedata.category(ch)[0] in "LNM":
            out.append(ch)
        else:
            out.append(" ")
    return " ".join("".join(out).split())


def _address_text(text: str) -> str:
    words = _LETTER_DIGIT_RE.sub(" ", _basic_text(text)).split()
    out: list[str] = []
    for word in words:
        if word == "#":
            if not (out and out[-1] in _UNIT_DESIGNATORS):
                out.append("apt")
            continue
        canonical = _ABBREVIATIONS.get(word, word)
        if canonical.endswith(_STRASSE_SUFFIX):
            canonical = canonical[: -len(_STRASSE_SUFFIX)] + "str"
        out.append(canonical)
    return _SPACE_AT_CJK_RE.sub("", " ".join(out))


def _postal_code(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isalnum()).upper()


def _country(text: str) -> str:
    basic = _SPACE_AT_CJK_RE.sub("", _basic_text(text).replace("#", " ")).strip()
    basic = " ".join(basic.split())
    if basic in _COUNTRIES:
        return _COUNTRIES[basic]
    if len(basic) == 2 and basic.isascii() and basic.isalpha():
        return basic.upper()
    return basic


def _trailing_country(text: str) -> str:
    """Replace a known country name at the end of a free-text address by its (lower) code."""
    words = text.split(" ")
    for size in (2, 1):
        if len(words) > size:
            tail = " ".join(words[-size:])
            if tail in _COUNTRIES:
                return " ".join([*words[:-size], _COUNTRIES[tail].lower()])
    return text


def normalize_address(parts: Mapping[str, str | None] | str) -> str:
    """One canonical string for an address, given as a free string or as a mapping with any of
    the keys in :data:`ADDRESS_FIELDS` (``None`` and empty values are skipped).

    Text is NFKC-normalised (full-width → ASCII), case-folded, punctuation becomes spaces,
    letters and digits are split apart (``12a`` → ``12 a``), common words take one short form
    (``street``/``st``/``st.`` → ``st``, ``flat``/``apartment``/``#`` → ``apt``, ``jalan`` →
    ``jl``, …) and spaces next to CJK characters are removed. The postal code keeps only its
    letters and digits, upper-cased; a country becomes its ISO code when known.

    The result is lower-case throughout, and a free string ending in a known country name
    ends in its code, so ``"12 Main St., Jakarta 10110 Indonesia"`` and
    ``{"line1": "12 Main Street", "city": "Jakarta", "postal_code": "10110", "country": "ID"}``
    give the same string: a raw address typed into a lookup finds the structured one.
    """
    if isinstance(parts, str):
        result = _trailing_country(_address_text(parts))
        if not result:
            raise ValueError("address: has no letters or digits")
        return result
    unknown = sorted(set(parts) - set(ADDRESS_FIELDS))
    if unknown:
        raise ValueError(
            f"address.{unknown[0]}: is not an address field (expected one of "
            f"{', '.join(ADDRESS_FIELDS)})"
        )
    lines: list[str] = []  # line1 … region: joined like one free string
    codes: list[str] = []  # postal code and country: separate tokens at the end
    for name in ADDRESS_FIELDS:
        value = parts.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValueError(f"address.{name}: must be a string, not {type(value).__name__}")
        if name == "postal_code":
            codes.append(_postal_code(value).lower())
        elif name == "country":
            codes.append(_country(value).lower())
        else:
            lines.append(_address_text(value))
    text = _SPACE_AT_CJK_RE.sub("", " ".join(piece for piece in lines if piece))
    result = " ".join(piece for piece in (text, *codes) if piece)
    if not result:
        raise ValueError("address: has no letters or digits")
    return result


# --------------------------------------------------------------------------------------------
# e-mail

_GMAIL_DOMAINS: Final[frozenset[str]] = frozenset({"gmail.com", "googlemail.com"})


def normalize_email(email: str) -> str:
    """Trimmed and lower-cased; a ``+tag`` suffix of the local part dropped (every provider);
    for gmail.com / googlemail.com the dots of the local part dropped and the domain gmail.com.
    """
    text = unicodedata.normalize("NFKC", email).strip().lower()
    if not text:
        raise ValueError("email: is empty")
    if any(ch.isspace() for ch in text):
        raise ValueError("email: must not contain whitespace")
    if text.count("@") != 1:
        raise ValueError("email: must contain exactly one '@'")
    local, _, domain = text.partition("@")
    if not local:
        raise ValueError("email: the part before '@' is empty")
    if not domain:
        raise ValueError("email: the domain after '@' is empty")
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        raise ValueError(f"email: {domain!r} is not a domain name (e.g. example.com)")
    local = local.split("+", 1)[0]
    if domain in _GMAIL_DOMAINS:
        domain = "gmail.com"
        local = local.replace(".", "")
    if not local:
        raise ValueError("email: the part before '@' is empty once '+tag' and dots are removed")
    return f"{local}@{domain}"


# --------------------------------------------------------------------------------------------
# phone

CALLING_CODES: Final[dict[str, str]] = {
    "CN": "86",
    "DE": "49",
    "GB": "44",
    "ID": "62",
    "MY": "60",
    "PH": "63",
    "SG": "65",
    "TH": "66",
    "US": "1",
    "VN": "84",
}
"""Country calling codes :func:`normalize_phone` can apply to national numbers."""

_PHONE_SEPARATORS: Final = frozenset(" -.()/")
_TRUNK_IN_PARENS_RE: Final = re.compile(r"\(\s*0\s*\)")  # "+44 (0)20 …"
_MIN_PHONE_DIGITS: Final = 6
_MAX_PHONE_DIGITS: Final = 15  # E.164


def normalize_phone(phone: str, default_country: str | None = None) -> str:
    """``+<digits>`` (E.164) when the country is known, otherwise the national digits.

    Full-width and other Unicode decimal digits become ASCII, separators (spaces, ``-``, ``.``,
    ``(``, ``)``, ``/``) and a ``(0)`` after the country code are dropped, ``00`` becomes ``+``.
    Without ``+``, a ``default_country`` in :data:`CALLING_CODES` drops one national trunk ``0``
    and prefixes its calling code; for any other country the national digits are returned.
    """
    text = _TRUNK_IN_PARENS_RE.sub(" ", unicodedata.normalize("NFKC", phone).strip())
    if not text:
        raise ValueError("phone: is empty")
    international = text.startswith("+")
    digits: list[str] = []
    for ch in text[1:] if international else text:
        value = unicodedata.decimal(ch, None)
        if value is not None:
            digits.append(str(value))
        elif not (ch.isspace() or ch in _PHONE_SEPARATORS):
            raise ValueError(f"phone: unexpected character {ch!r}")
    number = "".join(digits)
    if len(number) < _MIN_PHONE_DIGITS:
        raise ValueError(f"phone: has {len(number)} digits, at least {_MIN_PHONE_DIGITS} needed")
    if not international and number.startswith("00"):
        international, number = True, number[2:]
    elif not international and default_country:
        code = CALLING_CODES.get(default_country.strip().upper())
        if code is not None:
            if code == "1" and len(number) == 11 and number.startswith("1"):
                number = number[1:]  # North American numbers written with their "1"
            elif number.startswith("0"):
                number = number[1:]
            international, number = True, code + number
    if international and number.startswith("0"):
        raise ValueError("phone: a country calling code cannot start with 0")
    if len(number) > _MAX_PHONE_DIGITS:
        raise ValueError(f"phone: has {len(number)} digits, at most {_MAX_PHONE_DIGITS} allowed")
    return f"+{number}" if international else number


# --------------------------------------------------------------------------------------------
# IP addresses


def _parse_ip(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        raise ValueError(f"ip: {ip!r} is not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        return ipaddress.IPv6Address(int(address))  # drops a zone id such as "%eth0"
    return address


def normalize_ip(ip: str) -> str:
    """The canonical text of an IP address: IPv6 compressed and lower-case, without a zone id;
    an IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) as its IPv4 address."""
    return str(_parse_ip(ip))


def ip_prefix(ip: str) -> str:
    """The network an address belongs to: ``a.b.c.0/24`` for IPv4, the ``/48`` for IPv6."""
    address = _parse_ip(ip)
    if isinstance(address, ipaddress.IPv4Address):
        return str(ipaddress.IPv4Network((int(address) >> 8 << 8, 24)))
    return str(ipaddress.IPv6Network((int(address) >> 80 << 80, 48)))
