"""Signed webhooks: JSON messages POSTed to a receiver's URL, each signed so the receiver can
tell it came from us and was not replayed.

Signing: ``X-Riskops-Timestamp`` is the Unix time in whole seconds when the attempt is sent;
``X-Riskops-Signature`` is ``v1=`` and the hex HMAC-SHA256, keyed by the shared secret, of
the timestamp, a dot and the raw body (``f"{timestamp}.".encode() + body``). A receiver checks
it with :func:`verify`. ``X-Riskops-Delivery`` is the message's delivery id, the same on every
retry and on every re-run (for recovery actions, the action id): a receiver drops a delivery
id it has already seen.

Delivery (:func:`deliver`) runs in the caller's thread with the standard library's HTTP
client: a 2xx answer delivers; a 5xx, 408 or 429 answer or a connection error or timeout is
retried after a back-off that doubles from ``backoff_s`` up to ``max_backoff_s`` (or the
answer's ``Retry-After`` seconds, if longer, within the same cap) until ``attempts`` tries are
spent; any other answer (4xx, a redirect - redirects are not followed) fails at once."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.analytics.recovery import RecoveryAction, action_payload

TIMESTAMP_HEADER = "X-Riskops-Timestamp"
SIGNATURE_HEADER = "X-Riskops-Signature"
DELIVERY_HEADER = "X-Riskops-Delivery"
ATTEMPT_HEADER = "X-Riskops-Attempt"
ACTION_EVENT = "cart.recovery_action"


def _key(secret: bytes | str) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise AnalyticsInputError("secret", "must not be empty")
    return key


def sign(secret: bytes | str, timestamp: int, body: bytes) -> str:
    """The signature header value ``v1=<hex>`` of ``body`` sent at ``timestamp``."""
    digest = hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


def verify(
    secret: bytes | str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """For receivers: whether ``signature`` (the header; several comma-separated ``v1=``
    values are accepted, for secret rotation) signs ``body`` at ``timestamp`` and the timestamp
    is within ``tolerance_s`` seconds of ``now`` (default: the current time). Compares in
    constant time; a malformed header or timestamp is simply not valid."""
    if not isinstance(signature, str) or not isinstance(body, bytes):
        return False
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance_s:
        return False
    expected = sign(secret, sent, body).encode()
    found = False
    for part in signature.split(","):
        candidate = part.strip().encode("ascii", "replace")
        found |= hmac.compare_digest(candidate, expected)
    return found


@dataclass(frozen=True, slots=True)
class Message:
    """One webhook: ``payload`` is sent as JSON (keys sorted) under ``delivery_id``."""

    delivery_id: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    timeout_s: float = 10.0
    give_up_after: int = 3
    """Messages in a row that found no receiver at all (every try unanswered) before the rest
    are failed without trying: a receiver that is down is not hammered for an hour."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one message: ``status`` is the last HTTP status (``None`` when the last
    try got no answer), ``error`` says why it failed."""

    delivery_id: str
    delivered: bool
    attempts: int
    status: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    deliveries: tuple[Delivery, ...]

    @property
    def delivered(self) -> int:
        return sum(d.delivered for d in self.deliveries)

    @property
    def failed(self) -> int:
        return len(self.deliveries) - self.delivered


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None


def _check(url: str, policy: RetryPolicy) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AnalyticsInputError("url", "must be an http:// or https:// URL with a host")
    if policy.attempts < 1:
        raise AnalyticsInputError("attempts", "must be at least 1")
    if policy.backoff_s < 0 or policy.max_backoff_s < 0 or policy.timeout_s <= 0:
        raise AnalyticsInputError("backoff_s", "back-offs must be >= 0 and the timeout > 0")


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def _post(
    opener: urllib.request.OpenerDirector, request: urllib.request.Request, timeout: float
) -> tuple[int | None, str | None, float]:
    """Status, error text and Retry-After seconds of one try."""
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
            return int(response.status), None, 0.0
    except urllib.error.HTTPError as answer:
        wait = _retry_after(answer.headers.get("Retry-After") if answer.headers else None)
        answer.close()
        return answer.code, f"HTTP {answer.code}", wait
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return None, f"{type(exc).__name__}: {reason}", 0.0


def deliver(
    url: str,
    secret: bytes | str,
    messages: Iterable[Message],
    *,
    policy: RetryPolicy | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    use_env_proxy: bool = True,
) -> DeliveryReport:
    """POST each message, signed, with retries; one :class:`Delivery` per message, in order.
    ``clock`` and ``sleep`` are for tests; ``use_env_proxy=False`` ignores ``*_proxy``
    environment variables."""
    policy = policy or RetryPolicy()
    _check(url, policy)
    key = _key(secret)
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if not use_env_proxy:
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    out = []
    unreachable = 0
    for message in messages:
        if unreachable >= policy.give_up_after:
            reason = f"not tried: {unreachable} deliveries in a row found no receiver"
            out.append(Delivery(message.delivery_id, False, 0, None, reason))
            continue
        body = orjson.dumps(message.payload, option=orjson.OPT_SORT_KEYS)
        status: int | None = None
        error: str | None = None
        attempt = 0
        while attempt < policy.attempts:
            attempt += 1
            stamp = int(clock())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "riskops-webhooks/1",
                TIMESTAMP_HEADER: str(stamp),
                SIGNATURE_HEADER: sign(key, stamp, body),
                DELIVERY_HEADER: message.delivery_id,
                ATTEMPT_HEADER: str(attempt),
            }
            # the scheme is checked above: only http and https
            request = urllib.request.Request(url, body, headers, method="POST")  # noqa: S310
            status, error, wait = _post(opener, request, policy.timeout_s)
            if status is not None and 200 <= status < 300:
                error = None
                break
            if status is not None and status < 500 and status not in (408, 429):
                break
            if attempt < policy.attempts:
                backoff = policy.backoff_s * 2 ** (attempt - 1)
                sleep(min(policy.max_backoff_s, max(backoff, wait)))
        out.append(Delivery(message.delivery_id, error is None, attempt, status, error))
        unreachable = unreachable + 1 if status is None and error is not None else 0
    return DeliveryReport(tuple(out))


def action_messages(actions: Iterable[RecoveryAction]) -> list[Message]:
    """The treated actions as messages (holdout actions are never sent): payload
    ``{"event": "cart.recovery_action", "action": {...}}`` under the action id."""
    return [
        Message(a.action_id, {"event": ACTION_EVENT, "action": action_payload(a)})
        for a in actions
        if a.group == "treated"
    ]


def deliver_actions(
    url: str,
    secret: bytes | str,
    actions: Iterable[RecoveryAction],
    *,
    policy: RetryPolicy | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    use_env_proxy: bool = True,
) -> DeliveryReport:
    """:func:`deliver` of :func:`action_messages`: the treated actions of a plan."""
    messages = action_messages(actions)
    return deliver(
        url, secret, messages, policy=policy, clock=clock, sleep=sleep, use_env_proxy=use_env_proxy
    )
