"""Servers as real subprocesses, and the client-side helpers of the crash, restart and
multi-process tests (a stream of concurrent requests cut by ``kill -9``, resends, counters).
Shared by ``test_crash_and_restart``, ``test_postgres_redis`` and ``test_docs``."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import event

SECRET = "integration-secret"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
HTTP_TIMEOUT_S = 30.0


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def riskops_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a riskops subprocess: ours without any RISKOPS_* variable, plus
    ``settings`` (``database_url="..."`` becomes ``RISKOPS_DATABASE_URL``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RISKOPS_")}
    env["RISKOPS_DATA_DIR"] = str(data_dir)
    env["RISKOPS_SECRET_KEY"] = SECRET
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in settings.items():
        env[f"RISKOPS_{key.upper()}"] = value
    return env


def create_key(env: dict[str, str], cwd: Path) -> str:
    """`riskops keys create -q -n t -s admin` on the same database; returns the token."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "riskops.cli.main",
            "keys",
            "create",
            "-q",
            "-n",
            "t",
            "-s",
            "admin",
        ],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"keys create failed ({done.returncode}): {done.stderr}"
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    assert lines, f"keys create printed no token; stderr: {done.stderr}"
    return lines[-1]


class Server:
    """One `riskops serve` subprocess on a fixed loopback port (kept across restarts)."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.env = env
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._began = 0.0
        self.log_path = workdir / f"{name}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> float:
        """Start and wait for ``/readyz``; returns the seconds it took."""
        self.launch()
        return self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting (see :meth:`wait_ready`)."""
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        self.starts += 1
        self._began = time.monotonic()
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "riskops.cli.main",
                    "serve",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "info",  # so that a graceful stop is visible in the log
                ],
                env=self.env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> float:
        """Poll ``/readyz`` until 200 (bounded); returns the seconds since the launch. If
        another program took the port meanwhile, move to a new port (at most twice)."""
        assert self.proc is not None
        began = self._began
        deadline = began + READY_TIMEOUT_S
        moves = 0
        while True:
            code = self.proc.poll()
            if code is not None:
                if moves < 2 and "address already in use" in self._last_run().lower():
                    moves += 1
                    self.port = free_port()
                    self.url = f"http://127.0.0.1:{self.port}"
                    self.starts -= 1
                    self.launch()
                    continue
                pytest.fail(f"{self.name} exited with {code} at start:\n{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200:
                    return time.monotonic() - began
            if time.monotonic() > deadline:
                self.kill9()
                pytest.fail(f"{self.name} not ready in {READY_TIMEOUT_S}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def _last_run(self) -> str:
        return self.log_path.read_text(errors="replace").rsplit("===== start #", 1)[-1]

    def terminate(self) -> None:
        """SIGTERM, and check the stop was graceful: the app's shutdown ran to completion.
        (uvicorn re-raises the signal after shutting down, so the exit status is -SIGTERM.)"""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill9()
            pytest.fail(f"{self.name} ignored SIGTERM for {STOP_TIMEOUT_S}s:\n{self.log_tail()}")
        last_run = self._last_run()
        assert code in (0, -signal.SIGTERM), f"exit {code}:\n{self.log_tail()}"
        assert "Application shutdown complete" in last_run, self.log_tail()
        assert "Traceback" not in last_run, self.log_tail()

    def kill9(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def restart(self) -> float:
        return self.start()

    def close(self) -> None:
        """Teardown: whatever state it is in, leave no process behind."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def client(self, token: str, timeout: float = HTTP_TIMEOUT_S) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )


class ServerPool:
    """Creates servers and stops every one of them at the end (fixture teardown)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.servers: list[Server] = []

    def new(self, name: str, env: dict[str, str]) -> Server:
        server = Server(name, env, self.workdir)
        self.servers.append(server)
        return server

    def close(self) -> None:
        for server in self.servers:
            server.close()


# --------------------------------------------------------------------------- HTTP helpers


def post_one(client: httpx.Client, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    resp = client.post("/v1/events", json=body)
    return resp.status_code, resp.json()


def post_batch(client: httpx.Client, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    resp = client.post("/v1/events", json=list(bodies))
    assert resp.status_code == 200, resp.text
    results: list[dict[str, Any]] = resp.json()["results"]
    return results


def resend_all(
    client: httpx.Client, bodies: Sequence[dict[str, Any]], size: int = 250
) -> dict[str, dict[str, Any]]:
    """Post ``bodies`` in batches; returns each event_id's result."""
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(bodies), size):
        for result in post_batch(client, bodies[start : start + size]):
            out[result["event_id"]] = result
    return out


def profile(
    client: httpx.Client, kind: str, entity_id: str, **params: str
) -> dict[str, Any] | None:
    resp = client.get(f"/v1/entities/{kind}/{entity_id}", params=params)
    if resp.status_code == 404:
        return None
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def window_count(prof: dict[str, Any] | None, window: str, metric: str = "events") -> int:
    if prof is None:
        return 0
    series = prof["counters"].get(metric)
    if series is None:
        return 0
    stats = series["windows"].get(window)
    return int(stats["count"]) if stats else 0


def user_counts(client: httpx.Client, users: Sequence[str], window: str = "24h") -> dict[str, int]:
    """``events`` count in ``window`` per user (0 for a user the server does not know)."""
    out = {}
    for user in users:
        out[user] = window_count(profile(client, "user", user, windows=window), window)
    return out


def graph_events(client: httpx.Client, user: str) -> int:
    prof = profile(client, "user", user)
    return 0 if prof is None else int(prof["events"])


def recent(now: datetime, rng: random.Random, within_s: int = 3000) -> datetime:
    """A moment in the last ``within_s`` seconds before ``now`` (never in the future)."""
    return now - timedelta(seconds=rng.randint(5, within_s), microseconds=rng.randint(0, 999_999))


def make_events(tag: str, n: int, users: Sequence[str], seed: int) -> list[dict[str, Any]]:
    """``n`` valid events with unique ids spread over ``users`` and three event types."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    kinds = ("order.placed", "login.failed", "page.viewed")
    return [
        event(
            kinds[i % len(kinds)],
            event_id=f"{tag}-{i:05d}",
            user=users[i % len(users)],
            device=f"dev-{tag}-{i % 7}",
            ip=f"198.51.100.{i % 200 + 1}",
            at=recent(now, rng),
        )
        for i in range(n)
    ]


def sqlite_path(url: str) -> str:
    assert url.startswith("sqlite:///"), url
    return url.removeprefix("sqlite:///")


def sqlite_event_counts(url: str) -> tuple[int, int, list[tuple[str, int]]]:
    """(rows, distinct event_ids, ids stored more than once) of the SQLite events table."""
    conn = sqlite3.connect(f"file:{sqlite_path(url)}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM events").fetchone()
        repeated = conn.execute(
            "SELECT event_id, COUNT(*) FROM events GROUP BY event_id HAVING COUNT(*) > 1"
        ).fetchall()
    finally:
        conn.close()
    return int(rows[0]), int(rows[1]), [(str(a), int(b)) for a, b in repeated]


# --------------------------------------------------------------------------- crash stream


@dataclass
class StreamResult:
    """What the clients saw while streaming into servers that got killed."""

    acked: dict[str, int] = field(default_factory=dict)
    """event_id -> seq of every event a 2xx response acknowledged (accepted or duplicate)."""
    sent_units: int = 0
    acked_units: int = 0
    acked_at_kill: int = 0
    """Distinct events acknowledged when the SIGKILL was sent."""
    failed_units: int = 0
    """Requests to the victim that got no response after the kill (refused / reset)."""
    unacked_in_flight: int = 0
    """Requests that had been sent and were still unanswered when the kill happened."""
    bad_responses: list[str] = field(default_factory=list)
    """Any non-2xx answer, or a seq that changed for an id: each is a bug."""
    units_left: int = 0
    kill_after_s: float = 0.0


def build_units(
    events: Sequence[dict[str, Any]], seed: int, repeat_every: int = 9
) -> list[list[dict[str, Any]]]:
    """Single events and small batches (2-8), in order, plus now and then a unit repeating
    events already sent (a client retry), so the stream also carries duplicates."""
    rng = random.Random(seed)
    units: list[list[dict[str, Any]]] = []
    i = 0
    while i < len(events):
        size = 1 if rng.random() < 0.5 else rng.randint(2, 8)
        units.append(list(events[i : i + size]))
        i += size
        if len(units) % repeat_every == 0 and i > 20:
            units.append([events[rng.randrange(max(0, i - 40), i)]])
    return units


def stream_and_kill(
    targets: Sequence[tuple[Server, int]],
    victim: Server,
    token: str,
    units: Sequence[list[dict[str, Any]]],
    kill_after: int,
    deadline_s: float = 60.0,
    *,
    drain: bool = False,
) -> StreamResult:
    """Stream ``units`` through ``connections`` client threads per ``(server, connections)``;
    once ``kill_after`` events are acknowledged, SIGKILL ``victim`` mid-stream. Threads bound
    to the victim stop at their first failure after the kill; the others finish the request
    they are in (or, with ``drain``, the whole queue). The kill happens under the bookkeeping
    lock, so the counts taken at the kill are consistent."""
    out = StreamResult()
    lock = threading.Lock()
    next_unit = itertools.count()
    in_flight: set[int] = set()
    killing = threading.Event()
    stop = threading.Event()

    def record(index: int, unit: list[dict[str, Any]], resp: httpx.Response) -> None:
        if resp.status_code not in (200, 201):
            out.bad_responses.append(f"unit {index}: HTTP {resp.status_code} {resp.text[:300]}")
            return
        body = resp.json()
        results = body["results"] if isinstance(body, dict) and "results" in body else [body]
        for result in results:
            status = result.get("status", "duplicate" if result.get("duplicate") else "accepted")
            if status not in ("accepted", "duplicate") or result.get("seq") is None:
                out.bad_responses.append(f"unit {index}: {result}")
                continue
            seen = out.acked.setdefault(result["event_id"], result["seq"])
            if seen != result["seq"]:
                out.bad_responses.append(
                    f"{result['event_id']}: seq {result['seq']} after {seen} before"
                )
        out.acked_units += 1
        if len(results) != len(unit):
            out.bad_responses.append(f"unit {index}: {len(results)} results for {len(unit)}")

    def worker(server: Server) -> None:
        with server.client(token) as client:
            while not stop.is_set():
                index = next(next_unit)
                if index >= len(units):
                    return
                unit = units[index]
                with lock:
                    out.sent_units += 1
                    in_flight.add(index)
                try:
                    resp = client.post("/v1/events", json=unit[0] if len(unit) == 1 else unit)
                except httpx.TransportError as exc:
                    with lock:
                        in_flight.discard(index)
                        if server is victim and killing.is_set():
                            out.failed_units += 1
                        else:  # no answer from a server that was not killed: a bug
                            out.bad_responses.append(f"unit {index} to {server.name}: {exc!r}")
                    return
                except Exception as exc:  # never let a thread die silently
                    with lock:
                        in_flight.discard(index)
                        out.bad_responses.append(f"unit {index}: {type(exc).__name__}: {exc}")
                    return
                with lock:
                    in_flight.discard(index)
                    try:
                        record(index, unit, resp)
                    except Exception as exc:
                        out.bad_responses.append(f"unit {index}: unreadable answer {exc!r}")

    threads = [
        threading.Thread(target=worker, args=(server,), name=f"stream-{server.name}-{n}")
        for server, connections in targets
        for n in range(connections)
    ]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        deadline = began + deadline_s
        while time.monotonic() < deadline:
            with lock:
                enough = len(out.acked) >= kill_after
            if enough or not any(t.is_alive() for t in threads):
                break
            time.sleep(0.002)
        with lock:
            out.unacked_in_flight = len(in_flight)
            out.acked_at_kill = len(out.acked)
            out.kill_after_s = time.monotonic() - began
            killing.set()
            victim.kill9()
            peek = next(next_unit)
            if not drain:
                stop.set()
        out.units_left = max(0, len(units) - peek)
    finally:
        killing.set()
        for thread in threads:
            thread.join(timeout=deadline_s)
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert not any(t.is_alive() for t in threads), "stream threads did not finish"
    return out


def distinct_per_user(events: Sequence[dict[str, Any]]) -> dict[str, int]:
    unique = {e["event_id"]: e for e in events}
    return dict(Counter(e["user_id"] for e in unique.values()))


# --------------------------------------------------------------------------- tests
