"""Values kept in step with files: the first load is waited for, later ones happen in the
background without a gap, a failed load is retried."""

from __future__ import annotations

import threading
import time

from riskops.services.reloading import Reloading


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


def test_concurrent_first_callers_all_get_the_loaded_value() -> None:
    started = threading.Event()

    def load() -> str:
        started.set()
        time.sleep(0.2)
        return "v1"

    r = Reloading(lambda: 1, load, "empty", reload_s=60)
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(r.get())) for _ in range(4)]
    threads[0].start()
    started.wait()
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join()
    assert got == ["v1"] * 4


def test_a_change_loads_in_the_background_and_the_old_value_serves_meanwhile() -> None:
    clock, mark, gate = Clock(), [1], threading.Event()
    loads = []

    def load() -> str:
        loads.append(mark[0])
        if mark[0] == 2:
            gate.wait(5)
        return f"v{mark[0]}"

    r = Reloading(lambda: mark[0], load, "empty", reload_s=1, monotonic=clock)
    assert r.get() == "v1"
    mark[0] = 2
    assert r.get() == "v1"  # not re-checked before reload_s
    clock.now = 2
    assert r.get() == "v1"  # the new one is loading; the old one answers
    gate.set()
    _wait_for(lambda: r.get() == "v2")
    assert loads == [1, 2]


def test_a_failed_load_keeps_the_last_value_and_is_retried() -> None:
    clock, mark, fail = Clock(), [1], [False]

    def load() -> str:
        if fail[0]:
            raise OSError("disk")
        return f"v{mark[0]}"

    r = Reloading(lambda: mark[0], load, "empty", reload_s=1, monotonic=clock)
    assert r.get() == "v1"
    mark[0], fail[0], clock.now = 2, True, 2
    r.get()
    _wait_for(lambda: not r._loading)
    assert r.get() == "v1"
    fail[0], clock.now = False, 4
    r.get()
    _wait_for(lambda: r.get() == "v2")


def test_a_value_reported_broken_is_retried_without_a_change() -> None:
    clock, calls = Clock(), []

    def load() -> str:
        calls.append(1)
        return "broken" if len(calls) == 1 else "fine"

    r = Reloading(
        lambda: 1, load, "empty", reload_s=1, failed=lambda v: v == "broken", monotonic=clock
    )
    assert r.get() == "broken"
    clock.now = 2
    r.get()
    _wait_for(lambda: r.get() == "fine")


def test_with_nothing_to_serve_a_change_is_loaded_at_once() -> None:
    clock, mark = Clock(), [0]
    r = Reloading(
        lambda: mark[0], lambda: None if mark[0] == 0 else "v1", None, reload_s=1, monotonic=clock
    )
    assert r.get() is None  # nothing on disk yet
    mark[0], clock.now = 1, 2
    assert r.get() == "v1"  # no old value to serve meanwhile: the caller waits for the load
