"""Writers of one SQLite file queue on its writer lock, across stores (as across processes):
a second writer waits for the first to finish, then goes ahead; readers never wait."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from riskops.stores.factory import upgrade_schema
from riskops.stores.sql.engine import SqlStore


def test_a_second_writer_waits_for_the_first_and_readers_do_not(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    first, second = SqlStore(url), SqlStore(url)
    upgrade_schema(first)
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with first.begin(write=True):
            order.append("first in")
            holding.set()
            release.wait(10)
            order.append("first out")

    def follow() -> None:
        with second.begin(write=True):
            order.append("second in")

    t1 = threading.Thread(target=hold)
    t1.start()
    assert holding.wait(10)
    t2 = threading.Thread(target=follow)
    t2.start()
    time.sleep(0.2)
    assert order == ["first in"]  # the second writer is queued
    with second.begin() as uow:  # a reader is not
        uow.events.last_seq()
    release.set()
    t1.join(10)
    t2.join(10)
    assert order == ["first in", "first out", "second in"]
    first.close()
    second.close()
    assert (tmp_path / "w.db.writer-lock").exists()
