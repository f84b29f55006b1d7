"""Keyed hashes of normalised identifiers (addresses, e-mails, phones, payment instruments).

Entities are linked by these hashes, so raw identifiers need not be stored anywhere outside the
event log: two events share an e-mail node exactly when their normalised e-mails are equal, and
nobody who lacks the key can test a guessed e-mail against a stored hash.

The key is the ``secret_key`` setting (``RISKOPS_SECRET_KEY``; by default generated once into the
data directory) and is passed in by the caller; this module never reads it. Changing the key
changes every hash, so existing links split from new ones until the derived state is rebuilt
from the event log with the new key.

Normalise first (:mod:`riskops.core.identity.normalize`); this function hashes what it is given.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

IDENTIFIER_PREFIXES: Final[dict[str, str]] = {
    "address": "ad",
    "email": "em",
    "phone": "ph",
    "instrument": "pi",
}
"""Output prefixes of the known kinds; any other kind uses its first two letters."""

_KIND_RE: Final = re.compile(r"^[a-z]{2}[a-z0-9_]*$")
_HEX_CHARS: Final = 32


def hash_identifier(kind: str, normalized: str, secret: bytes) -> str:
    """``"<prefix>_"`` + the first 32 hex digits of HMAC-SHA256(secret, kind + NUL + normalized).

    ``kind`` is part of the message, so the same string hashed as two kinds gives two hashes.
    """
    if not _KIND_RE.match(kind):
        raise ValueError(
            f"kind: {kind!r} must be lower-case ASCII, start with two letters and use only "
            "letters, digits and '_'"
        )
    if not normalized:
        raise ValueError("normalized: must not be empty")
    if not secret:
        raise ValueError("secret: must not be empty")
    prefix = IDENTIFIER_PREFIXES.get(kind, kind[:2])
    message = kind.encode("ascii") + b"\x00" + normalized.encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).hexdigest()
    return f"{prefix}_{digest[:_HEX_CHARS]}"
