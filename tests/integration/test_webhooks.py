"""Signed webhooks against a real HTTP server on 127.0.0.1 that checks every signature, fails
first attempts with 503 and records what it accepted; and the receiver's check itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from riskops.services.analytics.inputs import AnalyticsInputError
from riskops.services.analytics.recovery import RecoveryAction
from riskops.services.webhooks import (
    DeliveryReport,
    Message,
    RetryPolicy,
    deliver,
    deliver_actions,
    sign,
    verify,
)

SECRET = b"shared-secret"
NOW = 1_700_000_000.0
FAST = RetryPolicy(attempts=3, backoff_s=0.5, max_backoff_s=10.0, timeout_s=5.0)


@dataclass
class Receiver:
    """What the test server does: the status to answer the first ``fail_first`` tries of each
    delivery id with (then 200), or ``always`` for every try; what it accepted."""

    fail_first: int = 1
    first_status: int = 503
    always: int | None = None
    accepted: list[dict[str, object]] = field(default_factory=list)
    tries: dict[str, int] = field(default_factory=dict)
    bad_signatures: int = 0
    duplicates: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.headers.append(dict(self.headers.items()))
            delivery = self.headers["X-Riskops-Delivery"]
            receiver.tries[delivery] = receiver.tries.get(delivery, 0) + 1
            ok = verify(
                SECRET,
                self.headers["X-Riskops-Timestamp"],
                body,
                self.headers["X-Riskops-Signature"],
                now=NOW,
            )
            if not ok:
                receiver.bad_signatures += 1
                self._answer(401)
            elif receiver.always is not None:
                self._answer(receiver.always)
            elif receiver.tries[delivery] <= receiver.fail_first:
                self._answer(receiver.first_status)
            else:
                if any(a["delivery"] == delivery for a in receiver.accepted):
                    receiver.duplicates += 1  # a receiver drops it; we count it
                else:
                    receiver.accepted.append({"delivery": delivery, "body": json.loads(body)})
                self._answer(200)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            return

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/riskops"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _send(receiver: Receiver, messages: list[Message]) -> tuple[DeliveryReport, list[float]]:
    waits: list[float] = []
    report = deliver(
        receiver.url,
        SECRET,
        messages,
        policy=FAST,
        clock=lambda: NOW,
        sleep=waits.append,
        use_env_proxy=False,
    )
    return report, waits


def test_delivers_signed_messages_after_a_503(receiver: Receiver) -> None:
    messages = [Message(f"d{i}", {"n": i, "text": "é"}) for i in range(3)]
    waits: list[float] = []
    report = deliver(
        receiver.url, SECRET, messages, policy=FAST, clock=lambda: NOW, sleep=waits.append,
        use_env_proxy=False,
    )  # fmt: skip
    assert [d.delivered for d in report.deliveries] == [True, True, True]
    assert [d.attempts for d in report.deliveries] == [2, 2, 2]
    assert [d.status for d in report.deliveries] == [200, 200, 200]
    assert (report.delivered, report.failed) == (3, 0)
    assert waits == [0.5, 0.5, 0.5]  # one back-off before each second try
    assert receiver.bad_signatures == 0
    assert [a["delivery"] for a in receiver.accepted] == ["d0", "d1", "d2"]
    assert [a["body"] for a in receiver.accepted] == [{"n": i, "text": "é"} for i in range(3)]
    first = receiver.headers[0]
    assert first["X-Riskops-Timestamp"] == str(int(NOW))
    assert first["X-Riskops-Signature"].startswith("v1=")
    assert first["Content-Type"] == "application/json"
    assert [h["X-Riskops-Attempt"] for h in receiver.headers[:2]] == ["1", "2"]


def test_gives_up_after_the_attempts_with_doubling_backoff(receiver: Receiver) -> None:
    receiver.always = 500
    report, waits = _send(receiver, [Message("x", {})])
    (only,) = report.deliveries
    assert (only.delivered, only.attempts, only.status, only.error) == (False, 3, 500, "HTTP 500")
    assert waits == [0.5, 1.0]
    assert receiver.tries == {"x": 3}


def test_a_4xx_is_not_retried(receiver: Receiver) -> None:
    receiver.always = 400
    report, waits = _send(receiver, [Message("x", {}), Message("y", {})])
    assert [d.attempts for d in report.deliveries] == [1, 1]
    assert report.failed == 2
    assert waits == []


def test_429_is_retried(receiver: Receiver) -> None:
    receiver.first_status = 429
    report, waits = _send(receiver, [Message("x", {})])
    assert report.delivered == 1
    assert waits == [0.5]


def test_a_wrong_secret_is_refused_by_the_receiver(receiver: Receiver) -> None:
    report = deliver(
        receiver.url, b"other", [Message("x", {})], policy=FAST, clock=lambda: NOW,
        sleep=lambda _: None, use_env_proxy=False,
    )  # fmt: skip
    assert report.deliveries[0].status == 401
    assert receiver.bad_signatures == 1
    assert receiver.accepted == []


def test_connection_errors_are_retried_then_reported() -> None:
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waits: list[float] = []
    report = deliver(
        f"http://127.0.0.1:{port}/", SECRET, [Message("x", {})], policy=FAST,
        clock=lambda: NOW, sleep=waits.append, use_env_proxy=False,
    )  # fmt: skip
    (only,) = report.deliveries
    assert not only.delivered
    assert only.attempts == 3
    assert only.status is None
    assert only.error is not None
    assert "refused" in only.error.lower()
    assert waits == [0.5, 1.0]


def test_a_receiver_that_is_down_is_not_tried_for_every_message() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    messages = [Message(f"m{i}", {}) for i in range(6)]
    report = deliver(
        f"http://127.0.0.1:{port}/", SECRET, messages, policy=FAST,
        clock=lambda: NOW, sleep=lambda _: None, use_env_proxy=False,
    )  # fmt: skip
    assert [d.attempts for d in report.deliveries] == [3, 3, 3, 0, 0, 0]
    assert report.failed == 6
    assert "not tried" in (report.deliveries[-1].error or "")


def _action(action_id: str, group: str) -> RecoveryAction:
    t = datetime(2024, 3, 1, 17)
    return RecoveryAction(
        action_id=action_id, campaign_id="spring", group=group,  # type: ignore[arg-type]
        kind="discount", user_id=f"user-{action_id}", cart_id="c", cart_last_change=t,
        cart_value_usd=20.0, action_at=t, discount_percent=10.0, discount_usd=2.0,
        expires_at=datetime(2024, 3, 3, 17),
    )  # fmt: skip


def test_only_treated_actions_are_sent_and_reruns_reuse_the_delivery_id(
    receiver: Receiver,
) -> None:
    actions = [_action("a1", "treated"), _action("a2", "holdout"), _action("a3", "treated")]

    def send() -> DeliveryReport:
        return deliver_actions(
            receiver.url, SECRET, actions, policy=FAST, clock=lambda: NOW, sleep=lambda _: None,
            use_env_proxy=False,
        )  # fmt: skip

    first = send()
    assert [d.delivery_id for d in first.deliveries] == ["a1", "a3"]
    again = send()
    assert again.delivered == 2
    assert receiver.duplicates == 2  # the receiver saw the same ids and could drop them
    assert [a["delivery"] for a in receiver.accepted] == ["a1", "a3"]
    body = receiver.accepted[0]["body"]
    assert body == {
        "event": "cart.recovery_action",
        "action": {
            "action_id": "a1", "campaign_id": "spring", "group": "treated", "kind": "discount",
            "user_id": "user-a1", "cart_id": "c", "cart_last_change": "2024-03-01T17:00:00Z",
            "cart_value_usd": 20.0, "action_at": "2024-03-01T17:00:00Z",
            "discount_percent": 10.0, "discount_usd": 2.0,
            "expires_at": "2024-03-03T17:00:00Z", "similar_skus": [],
        },
    }  # fmt: skip


def test_verify() -> None:
    body = b'{"a":1}'
    stamp = int(NOW)
    good = sign(SECRET, stamp, body)
    assert verify(SECRET, str(stamp), body, good, now=NOW)
    assert verify(SECRET.decode(), stamp, body, good, now=NOW + 300)  # at the tolerance
    assert not verify(SECRET, stamp, body, good, now=NOW + 301)  # too old
    assert not verify(SECRET, stamp, body, good, now=NOW - 301)  # from the future
    assert verify(SECRET, stamp, body, good, tolerance_s=600, now=NOW + 400)
    assert not verify(SECRET, stamp, body + b" ", good, now=NOW)  # body changed
    assert not verify(SECRET, stamp + 1, body, good, now=NOW)  # timestamp changed
    assert not verify(b"other", stamp, body, good, now=NOW)
    assert not verify(SECRET, "yesterday", body, good, now=NOW)
    assert not verify(SECRET, stamp, body, good[3:], now=NOW)  # no "v1="
    assert not verify(SECRET, stamp, body, "v1=é", now=NOW)
    assert not verify(SECRET, stamp, body, None, now=NOW)  # type: ignore[arg-type]  # no header
    # two signatures during a secret rotation: one valid is enough
    rotated = f"{sign(b'new-secret', stamp, body)}, {good}"
    assert verify(SECRET, stamp, body, rotated, now=NOW)
    # the digest is HMAC-SHA256 over "timestamp.body"
    expected = hmac.new(SECRET, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert good == f"v1={expected}"


@pytest.mark.parametrize(
    ("url", "secret", "policy", "field"),
    [
        ("ftp://example.test/x", SECRET, FAST, "url"),
        ("file:///etc/passwd", SECRET, FAST, "url"),
        ("http://127.0.0.1:1/", b"", FAST, "secret"),
        ("http://127.0.0.1:1/", SECRET, RetryPolicy(attempts=0), "attempts"),
    ],
)
def test_bad_configuration(url: str, secret: bytes, policy: RetryPolicy, field: str) -> None:
    with pytest.raises(AnalyticsInputError) as caught:
        deliver(url, secret, [Message("x", {})], policy=policy, use_env_proxy=False)
    assert caught.value.field == field
