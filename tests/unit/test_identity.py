"""Identity: fingerprints, normalisation of addresses / e-mails / phones / IPs, keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from riskops.core.identity import (
    FINGERPRINT_ATTRIBUTES,
    canonical_attributes,
    device_fingerprint,
    fingerprint_quality,
    hash_identifier,
    ip_prefix,
    normalize_address,
    normalize_email,
    normalize_ip,
    normalize_phone,
)

SECRET = b"test-secret-0123456789abcdef"
_FP_RE = re.compile(r"^fp_[0-9a-f]{32}$")

# ------------------------------------------------------------------------------------------
# addresses

ADDRESS_SAME = [
    pytest.param("Flat 3, 12 Main Street", "flat 3 12 main st.", id="street-abbrev-and-case"),
    pytest.param("Flat 3, 12 Main Street", "ＦＬＡＴ　３，１２ ＭＡＩＮ ＳＴ", id="full-width"),
    pytest.param("Flat 3, 12 Main Street", "Apartment 3, 12 Main St", id="flat-is-apartment"),
    pytest.param("Apt #3, 12 Main St", "#3 12 main st", id="hash-sign-is-apartment"),
    pytest.param("Apt3 12 Main St", "Apt. 3, 12 Main St.", id="letter-digit-split"),
    pytest.param("12A Main Road", "12 a main rd", id="house-letter-and-road"),
    pytest.param("１２３ Ｍａｉｎ Avenue", "123 main ave", id="full-width-avenue"),
    pytest.param("5 Sunset Boulevard", "5 sunset blvd", id="boulevard"),
    pytest.param("7 Oak Drive", "7 OAK DR.", id="drive"),
    pytest.param("8 Mill Lane", "8 mill ln", id="lane"),
    pytest.param("Suite 200, 1 Market St", "Ste. #200, 1 Market Street", id="suite-hash-number"),
    pytest.param("Unit 5, Floor 3, Building B", "unit #5 fl 3 bldg b", id="unit-floor-building"),
    pytest.param("100 North Main St", "100 N. Main Street", id="north"),
    pytest.param("1 South West Street", "1 s w st", id="south-west"),
    pytest.param("Jalan Sudirman No. 5", "Jl. Sudirman Number 5", id="jalan"),
    pytest.param("Jalan Sudirman No. 5", "jln sudirman no5", id="jalan-malaysian"),
    pytest.param("Hauptstraße 5", "Hauptstr. 5", id="german-strasse-suffix"),
    pytest.param("北京市 朝阳区 建国路 88 号", "北京市朝阳区建国路88号", id="chinese-spaces"),
    pytest.param(
        "北京市朝阳区建国路８８号", "北京市朝阳区建国路88号", id="chinese-full-width-digits"
    ),
    pytest.param("北京市朝阳区，建国路88号。", "北京市朝阳区建国路88号", id="chinese-punctuation"),
    pytest.param("台北市信義區 市府路 1 號", "台北市信義區市府路1號", id="traditional-chinese"),
    pytest.param("  12   Main\tSt  ", "12 main st", id="whitespace"),
]


@pytest.mark.parametrize(("a", "b"), ADDRESS_SAME)
def test_address_variants_collide(a: str, b: str) -> None:
    assert normalize_address(a) == normalize_address(b)


ADDRESS_DIFFERENT = [
    pytest.param("Flat 3, 12 Main St", "Flat 3, 14 Main St", id="house-number"),
    pytest.param("Flat 3, 12 Main St", "Flat 4, 12 Main St", id="unit-number"),
    pytest.param("12 Main St", "12 Main Rd", id="street-type"),
    pytest.param("12 Main St", "12 Mian St", id="street-name"),
    pytest.param("12 Main St", "1 2 Main St", id="digits-not-merged"),
    pytest.param("12A Main St", "12B Main St", id="house-letter"),
    pytest.param("Unit 5, 1 Main St", "Unit 6, 1 Main St", id="unit"),
    pytest.param("北京市朝阳区建国路88号", "北京市朝阳区建国路86号", id="chinese-number"),
    pytest.param("台北市市府路1號", "台北市市府路1号", id="hao-traditional-kept"),
]


@pytest.mark.parametrize(("a", "b"), ADDRESS_DIFFERENT)
def test_address_variants_stay_apart(a: str, b: str) -> None:
    assert normalize_address(a) != normalize_address(b)


ADDRESS_EXPECTED = [
    pytest.param("Flat 3, 12 Main Street", "apt 3 12 main st", id="free-string"),
    pytest.param("北京市 朝阳区 建国路 88 号", "北京市朝阳区建国路88号", id="chinese"),
    pytest.param(
        {
            "line1": "12 Main Street",
            "line2": "Flat 3",
            "city": "London",
            "region": None,
            "postal_code": "sw1a 1aa",
            "country": "United Kingdom",
        },
        "12 main st apt 3 london sw1a1aa gb",
        id="mapping",
    ),
    pytest.param(
        {"line1": "Jl. Sudirman No. 5", "city": "Jakarta", "postal_code": "10220", "country": "id"},
        "jl sudirman no 5 jakarta 10220 id",
        id="mapping-country-code-lower",
    ),
    pytest.param(
        {"line1": "建国路 88 号", "city": "北京市", "postal_code": "100 022", "country": "中国"},
        "建国路88号北京市 100022 cn",
        id="mapping-chinese",
    ),
    pytest.param(
        {"line1": "1-2-3 Ginza", "postal_code": "〒104-0061", "country": "Japan"},
        "1 2 3 ginza 1040061 jp",
        id="postal-code-letters-digits-only",
    ),
    pytest.param({"line1": "1 Rue X", "country": "France"}, "1 rue x france", id="unknown-country"),
]


@pytest.mark.parametrize(
    ("free_text", "parts"),
    [
        pytest.param(
            "12 Main St., Jakarta 10110 Indonesia",
            {"line1": "12 Main Street", "city": "Jakarta", "postal_code": "10110", "country": "ID"},
            id="country-name",
        ),
        pytest.param(
            "Jl. Sudirman No. 5, Jakarta, ID",
            {"line1": "Jl. Sudirman No. 5", "city": "Jakarta", "country": "id"},
            id="country-code",
        ),
    ],
)
def test_free_text_finds_structured_address(free_text: str, parts: dict[str, str]) -> None:
    assert normalize_address(free_text) == normalize_address(parts)


@pytest.mark.parametrize(("parts", "expected"), ADDRESS_EXPECTED)
def test_address_expected(parts: dict[str, str | None] | str, expected: str) -> None:
    assert normalize_address(parts) == expected


def test_address_lines_split_differently_collide() -> None:
    one = normalize_address({"line1": "12 Main St, Flat 3", "city": "London"})
    two = normalize_address({"line1": "12 Main St", "line2": "Flat 3", "city": "London"})
    assert one == two


ADDRESS_INVALID = [
    pytest.param("", "no letters or digits", id="empty"),
    pytest.param(" ,.- ", "no letters or digits", id="punctuation-only"),
    pytest.param({"line1": "...", "city": None}, "no letters or digits", id="mapping-empty"),
    pytest.param({"street": "12 Main St"}, r"address\.street", id="unknown-field"),
]


@pytest.mark.parametrize(("parts", "message"), ADDRESS_INVALID)
def test_address_invalid(parts: dict[str, str | None] | str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_address(parts)


# ------------------------------------------------------------------------------------------
# e-mail

EMAIL_CASES = [
    pytest.param("  Alice@Example.COM ", "alice@example.com", id="trim-lower"),
    pytest.param("alice+promo@example.com", "alice@example.com", id="plus-tag"),
    pytest.param("a.l.i.c.e@example.com", "a.l.i.c.e@example.com", id="dots-kept-elsewhere"),
    pytest.param("J.Smith+x@gmail.com", "jsmith@gmail.com", id="gmail-dots-and-tag"),
    pytest.param("j.smith@googlemail.com", "jsmith@gmail.com", id="googlemail"),
    pytest.param("ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", "john@example.com", id="full-width"),
    pytest.param("user@mail.example.co.id", "user@mail.example.co.id", id="subdomain"),
]


@pytest.mark.parametrize(("raw", "expected"), EMAIL_CASES)
def test_email(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


EMAIL_INVALID = [
    pytest.param("", "empty", id="empty"),
    pytest.param("alice.example.com", "one '@'", id="no-at"),
    pytest.param("a@b@example.com", "one '@'", id="two-at"),
    pytest.param("@example.com", "before '@' is empty", id="empty-local"),
    pytest.param("alice@", "domain after '@' is empty", id="empty-domain"),
    pytest.param("alice@localhost", "not a domain name", id="no-dot"),
    pytest.param("alice@example..com", "not a domain name", id="empty-label"),
    pytest.param("al ice@example.com", "whitespace", id="inner-space"),
    pytest.param("+promo@example.com", "once '\\+tag'", id="only-tag"),
    pytest.param("...@gmail.com", "once '\\+tag'", id="gmail-only-dots"),
]


@pytest.mark.parametrize(("raw", "message"), EMAIL_INVALID)
def test_email_invalid(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_email(raw)


# ------------------------------------------------------------------------------------------
# phone

PHONE_CASES = [
    pytest.param("+62 812-3456-7890", None, "+6281234567890", id="ID-international"),
    pytest.param("0812 3456 7890", "ID", "+6281234567890", id="ID-national"),
    pytest.param("081-234-5678", "TH", "+66812345678", id="TH"),
    pytest.param("012-345 6789", "my", "+60123456789", id="MY-lowercase-country"),
    pytest.param("9123 4567", "SG", "+6591234567", id="SG-no-trunk"),
    pytest.param("138 0013 8000", "CN", "+8613800138000", id="CN"),
    pytest.param("0171 1234567", "DE", "+491711234567", id="DE"),
    pytest.param("020 7946 0958", "GB", "+442079460958", id="GB"),
    pytest.param("+44 (0)20 7946 0958", None, "+442079460958", id="GB-bracketed-trunk"),
    pytest.param("(415) 555-0100", "US", "+14155550100", id="US"),
    pytest.param("1 415 555 0100", "US", "+14155550100", id="US-with-leading-1"),
    pytest.param("090 123 4567", "VN", "+84901234567", id="VN"),
    pytest.param("0917 123 4567", "PH", "+639171234567", id="PH"),
    pytest.param("0066 81 234 5678", None, "+66812345678", id="double-zero-prefix"),
    pytest.param("００６６ ８１２ ３４５ ６７８", None, "+66812345678", id="full-width"),
    pytest.param("＋６２ ８１２ ３４５６ ７８９０", "TH", "+6281234567890", id="plus-wins"),
    pytest.param("๐๘๑ ๒๓๔ ๕๖๗๘", "TH", "+66812345678", id="thai-digits"),
    pytest.param("0812 3456 7890", None, "081234567890", id="national-without-country"),
    pytest.param("090-1234-5678", "JP", "09012345678", id="country-not-in-table"),
    pytest.param("+1.415.555.0100", None, "+14155550100", id="dots"),
]


@pytest.mark.parametrize(("raw", "country", "expected"), PHONE_CASES)
def test_phone(raw: str, country: str | None, expected: str) -> None:
    assert normalize_phone(raw, country) == expected


PHONE_INVALID = [
    pytest.param("", None, "empty", id="empty"),
    pytest.param("12345", "ID", "5 digits", id="too-short"),
    pytest.param("+", None, "0 digits", id="plus-only"),
    pytest.param("0800-FLOWERS", "US", "unexpected character", id="letters"),
    pytest.param("+62 812 3456 7890 ext 5", None, "unexpected character", id="extension"),
    pytest.param("62+8123456789", None, "unexpected character", id="inner-plus"),
    pytest.param("+0812345678", None, "cannot start with 0", id="zero-country-code"),
    pytest.param("+1234567890123456", None, "at most 15", id="too-long"),
]


@pytest.mark.parametrize(("raw", "country", "message"), PHONE_INVALID)
def test_phone_invalid(raw: str, country: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_phone(raw, country)


# ------------------------------------------------------------------------------------------
# IP addresses

IP_CASES = [
    pytest.param("192.168.1.77", "192.168.1.77", "192.168.1.0/24", id="v4"),
    pytest.param(" 10.0.0.1 ", "10.0.0.1", "10.0.0.0/24", id="v4-whitespace"),
    pytest.param("2001:db8:abcd:12::1", "2001:db8:abcd:12::1", "2001:db8:abcd::/48", id="v6"),
    pytest.param("2001:0DB8:0000::0001", "2001:db8::1", "2001:db8::/48", id="v6-uncompressed"),
    pytest.param("::ffff:10.1.2.3", "10.1.2.3", "10.1.2.0/24", id="v4-mapped"),
    pytest.param("fe80::1%eth0", "fe80::1", "fe80::/48", id="v6-zone-id"),
]


@pytest.mark.parametrize(("raw", "canonical", "prefix"), IP_CASES)
def test_ip(raw: str, canonical: str, prefix: str) -> None:
    assert normalize_ip(raw) == canonical
    assert ip_prefix(raw) == prefix


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param("256.1.1.1", id="v4-out-of-range"),
        pytest.param("1.2.3", id="v4-short"),
        pytest.param("01.2.3.4", id="v4-leading-zero"),
        pytest.param("2001:db8::g", id="v6-bad-hex"),
        pytest.param("example.com", id="hostname"),
    ],
)
def test_ip_invalid(raw: str) -> None:
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        ip_prefix(raw)
    with pytest.raises(ValueError, match="not an IPv4 or IPv6 address"):
        normalize_ip(raw)


# ------------------------------------------------------------------------------------------
# identifier hashes


@pytest.mark.parametrize(
    ("kind", "prefix"),
    [
        pytest.param("address", "ad", id="address"),
        pytest.param("email", "em", id="email"),
        pytest.param("phone", "ph", id="phone"),
        pytest.param("instrument", "pi", id="instrument"),
        pytest.param("device", "de", id="other-kind"),
    ],
)
def test_hash_identifier_prefix(kind: str, prefix: str) -> None:
    value = hash_identifier(kind, "x@example.com", SECRET)
    assert re.fullmatch(rf"{prefix}_[0-9a-f]{{32}}", value)
    expected = hmac.new(SECRET, kind.encode() + b"\x00x@example.com", hashlib.sha256).hexdigest()
    assert value == f"{prefix}_{expected[:32]}"


def test_hash_identifier_separates_kinds_and_secrets() -> None:
    email = hash_identifier("email", "a@example.com", SECRET)
    assert email == hash_identifier("email", "a@example.com", SECRET)
    assert email[3:] != hash_identifier("emailx", "a@example.com", SECRET)[3:]
    assert email != hash_identifier("email", "a@example.com", b"another-secret")
    assert email != hash_identifier("email", "b@example.com", SECRET)


@pytest.mark.parametrize(
    ("kind", "value", "secret", "message"),
    [
        pytest.param("", "x", SECRET, "kind", id="empty-kind"),
        pytest.param("e", "x", SECRET, "kind", id="one-letter-kind"),
        pytest.param("Email", "x", SECRET, "kind", id="upper-case-kind"),
        pytest.param("em\x00ail", "x", SECRET, "kind", id="nul-in-kind"),
        pytest.param("email", "", SECRET, "normalized", id="empty-value"),
        pytest.param("email", "x", b"", "secret", id="empty-secret"),
    ],
)
def test_hash_identifier_invalid(kind: str, value: str, secret: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hash_identifier(kind, value, secret)


# ------------------------------------------------------------------------------------------
# device fingerprints

PHONE_DEVICE: dict[str, object] = {
    "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8)",
    "model": "Pixel 8",
    "os": "Android",
    "os_version": "14",
    "screen": "1080x2400",
    "timezone": "Asia/Jakarta",
    "language": "id-ID",
}


def test_fingerprint_golden_value() -> None:
    # Pinned on purpose: a change here changes every stored derived fingerprint.
    assert device_fingerprint(PHONE_DEVICE, SECRET) == "fp_7de4a3e338df85a8a678969fdef8108b"
    canonical = json.dumps(
        canonical_attributes(PHONE_DEVICE), sort_keys=True, separators=(",", ":")
    ).encode()
    digest = hmac.new(SECRET, b"riskops.device_fingerprint.v1\x00" + canonical, hashlib.sha256)
    assert device_fingerprint(PHONE_DEVICE, SECRET) == "fp_" + digest.hexdigest()[:32]


def test_fingerprint_canonical_form() -> None:
    noisy = {
        "User-Agent": "  mozilla/5.0  (LINUX; android 14;\tpixel 8) ",
        "Model": "PIXEL 8",
        "OS": "android",
        "osVersion": 14,
        "screen": "2400 X 1080",  # rotated
        "timezone": "asia/jakarta",
        "language": "ID-id",
        "battery": 0.42,  # volatile, ignored
        "fingerprint_source": "derived",  # set by the server, ignored
        "emulator": False,  # not a fingerprint attribute
    }
    assert canonical_attributes(noisy) == canonical_attributes(PHONE_DEVICE)
    assert device_fingerprint(noisy, SECRET) == device_fingerprint(PHONE_DEVICE, SECRET)
    assert canonical_attributes({"canvas_hash": " AB CD ef "}) == {"canvas_hash": "abcdef"}


@pytest.mark.parametrize(
    "attrs",
    [
        pytest.param({}, id="empty"),
        pytest.param({"battery": 0.5, "ip": "10.0.0.1"}, id="only-unknown"),
        pytest.param({"model": "  ", "os": None, "screen": ["1080", "2400"]}, id="only-empty"),
    ],
)
def test_fingerprint_none_without_recognised_attributes(attrs: dict[str, object]) -> None:
    assert device_fingerprint(attrs, SECRET) is None


def test_fingerprint_encoding_does_not_collide_by_concatenation() -> None:
    a = device_fingerprint({"model": "ab", "os": "c"}, SECRET)
    b = device_fingerprint({"model": "a", "os": "bc"}, SECRET)
    c = device_fingerprint({"model": 'a","os":"bc'}, SECRET)
    assert len({a, b, c}) == 3


def test_fingerprint_rejects_empty_secret() -> None:
    with pytest.raises(ValueError, match="secret"):
        device_fingerprint(PHONE_DEVICE, b"")


@pytest.mark.parametrize(
    ("attrs", "quality"),
    [
        pytest.param({**PHONE_DEVICE, "canvas_hash": "9f86d081"}, "strong", id="canvas"),
        pytest.param({"webgl_hash": "ABCDEF"}, "strong", id="webgl-alone"),
        pytest.param({"webgl_hash": " ", "model": "x"}, "weak", id="empty-hash"),
        pytest.param(PHONE_DEVICE, "medium", id="many-attributes"),
        pytest.param({"model": "x", "os": "y", "language": "en"}, "medium", id="three"),
        pytest.param({"model": "x", "os": "y", "battery": 1}, "weak", id="two-plus-unknown"),
        pytest.param({}, "weak", id="none"),
    ],
)
def test_fingerprint_quality(attrs: dict[str, object], quality: str) -> None:
    assert fingerprint_quality(attrs) == quality


# Values already in canonical form (lower-case, no whitespace, no "x" so that no value parses
# as a screen size and gets reordered), so distinct values are distinct attributes.
_values = st.text(alphabet="abcdefghijklmnopqrstuvw0123456789/._-", min_size=1, max_size=12)
_recognised = st.dictionaries(st.sampled_from(FINGERPRINT_ATTRIBUTES), _values, min_size=1)
_unknown = st.dictionaries(
    st.text(max_size=10).map(lambda key: "x_" + key),
    st.one_of(st.none(), st.integers(), st.text(max_size=10)),
    min_size=1,
    max_size=5,
)
_secrets = st.binary(min_size=1, max_size=64)
_settings = settings(max_examples=60, deadline=None)


@_settings
@given(data=st.data(), attrs=_recognised)
def test_fingerprint_independent_of_order(data: st.DataObject, attrs: dict[str, str]) -> None:
    # also spell some keys differently, so that duplicates after canonicalisation are exercised
    items = list(attrs.items()) + [(key.upper(), value + "z") for key, value in attrs.items()]
    shuffled = data.draw(st.permutations(items))
    assert device_fingerprint(dict(shuffled), SECRET) == device_fingerprint(dict(items), SECRET)


@_settings
@given(data=st.data(), attrs=_recognised)
def test_fingerprint_changes_with_any_attribute(data: st.DataObject, attrs: dict[str, str]) -> None:
    key = data.draw(st.sampled_from(FINGERPRINT_ATTRIBUTES))
    value = data.draw(_values)
    assume(attrs.get(key) != value)
    before = device_fingerprint(attrs, SECRET)
    assert before is not None
    assert device_fingerprint({**attrs, key: value}, SECRET) != before
    if key in attrs:
        removed = {k: v for k, v in attrs.items() if k != key}
        assert device_fingerprint(removed, SECRET) != before


@_settings
@given(attrs=_recognised, first=_secrets, second=_secrets)
def test_fingerprint_differs_between_secrets(
    attrs: dict[str, str], first: bytes, second: bytes
) -> None:
    # HMAC pads short keys with NUL bytes, so b"k" and b"k\0" are the same key by design.
    assume(first.rstrip(b"\x00") != second.rstrip(b"\x00"))
    assert device_fingerprint(attrs, first) != device_fingerprint(attrs, second)


@_settings
@given(attrs=_recognised, unknown=_unknown)
def test_fingerprint_ignores_unknown_keys(
    attrs: dict[str, str], unknown: dict[str, object]
) -> None:
    fingerprint = device_fingerprint({**unknown, **attrs}, SECRET)
    assert fingerprint is not None
    assert _FP_RE.match(fingerprint)
    assert fingerprint == device_fingerprint(attrs, SECRET)
    assert fingerprint_quality({**unknown, **attrs}) == fingerprint_quality(attrs)
