"""API keys: created once (the token is shown only then), stored as a SHA-256 hash, verified
in constant time, cached briefly per process."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from riskops.core.events.envelope import to_us
from riskops.errors import Forbidden, NotFound, Problem, Unauthorized, ValidationFailed
from riskops.services.clock import Clock
from riskops.stores.base import ApiKeyRow, Store

SCOPES = ("ingest", "decide", "read", "admin")
"""``admin`` implies every other scope."""

_PREFIX = "rko"


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key_id: str
    token: str
    name: str
    scopes: tuple[str, ...]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_scopes(scopes: list[str]) -> tuple[str, ...]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValidationFailed(
            "invalid scopes",
            [Problem("scopes", f"choose from {', '.join(SCOPES)}; got {scopes!r}")],
        )
    return tuple(dict.fromkeys(scopes))


class KeyService:
    def __init__(self, store: Store, clock: Clock, cache_s: float = 30.0) -> None:
        self._store = store
        self._clock = clock
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, ApiKeyRow]] = {}
        self._lock = threading.Lock()

    def create(self, name: str, scopes: list[str]) -> CreatedKey:
        scope_tuple = check_scopes(scopes)
        if not name.strip():
            raise ValidationFailed("invalid key", [Problem("name", "must not be empty")])
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        row = ApiKeyRow(
            key_id, name.strip(), _hash(secret), scope_tuple, to_us(self._clock()), None
        )
        with self._store.begin(write=True) as uow:
            uow.keys.add(row)
            uow.commit()
        return CreatedKey(key_id, f"{_PREFIX}_{key_id}_{secret}", row.name, scope_tuple)

    def list(self) -> list[ApiKeyRow]:
        with self._store.begin() as uow:
            return uow.keys.all()

    def revoke(self, key_id: str) -> None:
        with self._store.begin(write=True) as uow:
            ok = uow.keys.revoke(key_id, to_us(self._clock()))
            uow.commit()
        with self._lock:
            self._cache.pop(key_id, None)
        if not ok:
            raise NotFound(f"no active key {key_id!r}")

    def is_cached(self, token: str | None) -> bool:
        """True when verifying ``token`` needs no database read (a fresh cache entry)."""
        if not token:
            return True
        parts = token.split("_", 2)
        if len(parts) != 3:
            return True
        with self._lock:
            hit = self._cache.get(parts[1])
        return bool(hit and time.monotonic() - hit[0] < self._cache_s)

    def verify(self, token: str | None, scope: str) -> ApiKeyRow:
        """The key's row, if ``token`` is a valid unrevoked key holding ``scope``."""
        if not token:
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != _PREFIX:
            raise Unauthorized("malformed API key")
        _, key_id, secret = parts
        row = self._lookup(key_id)
        if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
            raise Unauthorized("unknown API key")
        if row.revoked_at_us is not None:
            raise Unauthorized("this API key was revoked")
        if scope not in row.scopes and "admin" not in row.scopes:
            raise Forbidden(f"this API key lacks the {scope!r} scope")
        return row

    def _lookup(self, key_id: str) -> ApiKeyRow | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key_id)
            if hit and now - hit[0] < self._cache_s:
                return hit[1]
        with self._store.begin() as uow:
            row = uow.keys.get(key_id)
        if row is not None:
            with self._lock:
                self._cache[key_id] = (now, row)
        return row
