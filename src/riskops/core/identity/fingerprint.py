"""Device fingerprints derived from the attributes a client sends about its device.

A client that has its own stable device id sends it as ``device.fingerprint`` and none of this
runs. Otherwise :func:`device_fingerprint` derives one from the recognised attributes in
:data:`FINGERPRINT_ATTRIBUTES`; every other key (volatile ones such as battery level, IP or
time stamps, and anything unknown) is ignored, so adding fields to a payload never changes a
device's identity.

Canonical form (see :func:`canonical_attributes`):

* keys are matched case- and separator-insensitively (``User-Agent``, ``userAgent`` and
  ``user_agent`` are the same attribute);
* values are strings or numbers; anything else (``None``, lists, objects) counts as absent;
* values are Unicode NFKC-normalised, trimmed, whitespace collapsed and lower-cased; the two
  hashes additionally lose all whitespace; ``screen`` becomes ``"<short>x<long>"`` so that
  rotating a phone does not change its fingerprint;
* empty values are dropped; if a key occurs twice (``OS`` and ``os``) the smallest canonical
  value wins, so the result never depends on the order of the mapping;
* the attributes are encoded as JSON with sorted keys, so no two different attribute sets can
  produce the same bytes by concatenation.

The fingerprint is ``"fp_"`` + the first 32 hex digits of HMAC-SHA256(secret, version tag +
canonical JSON). Nothing is read from the environment: the secret is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Final, Literal

FINGERPRINT_ATTRIBUTES: Final[tuple[str, ...]] = (
    "user_agent",
    "model",
    "os",
    "os_version",
    "screen",
    "timezone",
    "language",
    "canvas_hash",
    "webgl_hash",
)
"""The device attributes that make up a derived fingerprint; all other keys are ignored."""

HASH_ATTRIBUTES: Final[frozenset[str]] = frozenset({"canvas_hash", "webgl_hash"})
"""Attributes that are themselves hashes of rendering output; their presence means "strong"."""

FingerprintQuality = Literal["strong", "medium", "weak"]

_VERSION_TAG: Final = b"riskops.device_fingerprint.v1\x00"
_PREFIX: Final = "fp_"
_HEX_CHARS: Final = 32
_MEDIUM_MIN_ATTRIBUTES: Final = 3

# squashed key (lower-case, letters and digits only) → attribute name
_KEY_LOOKUP: Final[dict[str, str]] = {
    name.replace("_", ""): name for name in FINGERPRINT_ATTRIBUTES
}
_NON_ALNUM_RE: Final = re.compile(r"[^0-9a-z]+")
_SCREEN_RE: Final = re.compile(r"^(\d+)\s*[x×*]\s*(\d+)$")


def _attribute_name(key: str) -> str | None:
    squashed = _NON_ALNUM_RE.sub("", unicodedata.normalize("NFKC", key).lower())
    return _KEY_LOOKUP.get(squashed)


def _canonical_value(name: str, value: object) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | int | float):
        text = str(value)
    else:
        return ""
    text = " ".join(unicodedata.normalize("NFKC", text).split()).lower()
    if name in HASH_ATTRIBUTES:
        return text.replace(" ", "")
    if name == "screen":
        match = _SCREEN_RE.match(text)
        if match:
            a, b = int(match.group(1)), int(match.group(2))
            return f"{min(a, b)}x{max(a, b)}"
    return text


def canonical_attributes(attrs: Mapping[str, object]) -> dict[str, str]:
    """The recognised, canonicalised, non-empty attributes of ``attrs``, sorted by name."""
    found: dict[str, str] = {}
    for key, value in attrs.items():
        name = _attribute_name(key)
        if name is None:
            continue
        canonical = _canonical_value(name, value)
        if not canonical:
            continue
        previous = found.get(name)
        if previous is None or canonical < previous:
            found[name] = canonical
    return dict(sorted(found.items()))


def device_fingerprint(attrs: Mapping[str, object], secret: bytes) -> str | None:
    """``"fp_"`` + 32 hex digits derived from the recognised attributes, or ``None`` when none of
    :data:`FINGERPRINT_ATTRIBUTES` is present (with a non-empty value)."""
    if not secret:
        raise ValueError("secret: must not be empty")
    canonical = canonical_attributes(attrs)
    if not canonical:
        return None
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hmac.new(secret, _VERSION_TAG + encoded.encode("utf-8"), hashlib.sha256).hexdigest()
    return _PREFIX + digest[:_HEX_CHARS]


def fingerprint_quality(attrs: Mapping[str, object]) -> FingerprintQuality:
    """``"strong"`` when a canvas or WebGL hash is present, ``"medium"`` with at least three
    recognised attributes, ``"weak"`` otherwise (including none at all)."""
    canonical = canonical_attributes(attrs)
    if HASH_ATTRIBUTES & canonical.keys():
        return "strong"
    if len(canonical) >= _MEDIUM_MIN_ATTRIBUTES:
        return "medium"
    return "weak"
