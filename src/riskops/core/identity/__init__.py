"""Identity: device fingerprints, identifier normalisation and keyed identifier hashes.

Pure functions; the HMAC key is always an argument. See docs/fingerprint.md.
"""

from __future__ import annotations

from riskops.core.identity.fingerprint import (
    FINGERPRINT_ATTRIBUTES,
    FingerprintQuality,
    canonical_attributes,
    device_fingerprint,
    fingerprint_quality,
)
from riskops.core.identity.hashing import IDENTIFIER_PREFIXES, hash_identifier
from riskops.core.identity.normalize import (
    ADDRESS_FIELDS,
    CALLING_CODES,
    ip_prefix,
    normalize_address,
    normalize_email,
    normalize_ip,
    normalize_phone,
)

__all__ = [
    "ADDRESS_FIELDS",
    "CALLING_CODES",
    "FINGERPRINT_ATTRIBUTES",
    "IDENTIFIER_PREFIXES",
    "FingerprintQuality",
    "canonical_attributes",
    "device_fingerprint",
    "fingerprint_quality",
    "hash_identifier",
    "ip_prefix",
    "normalize_address",
    "normalize_email",
    "normalize_ip",
    "normalize_phone",
]
