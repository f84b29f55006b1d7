"""A value kept in step with files on disk (a model registry, a credit snapshot), for the
decision path: cheap to read, re-checked at most every ``reload_s`` seconds.

* The **first** load - and any load while there is nothing to serve yet (no snapshot, no
  model) - happens in the caller, under a lock: concurrent callers wait for it, so no decision
  runs without a value that exists on disk.
* **Later** changes load on a background thread while decisions keep the previous value: a
  three-second snapshot load never stalls the event loop. A change is then seen within
  ``reload_s`` plus the load's own time.
* A load that fails (or returns a value :attr:`failed` says is broken) keeps the previous value
  and is tried again at the next check - its mark is not remembered.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("riskops.reload")


class Reloading(Generic[T]):
    def __init__(
        self,
        mark: Callable[[], Hashable],
        load: Callable[[], T],
        empty: T,
        *,
        reload_s: float = 1.0,
        failed: Callable[[T], bool] = lambda _: False,
        monotonic: Callable[[], float] = time.monotonic,
        name: str = "value",
    ) -> None:
        self._mark, self._load, self._failed = mark, load, failed
        self._value: T = empty
        self._empty = empty
        self._reload_s = reload_s
        self._monotonic = monotonic
        self._name = name
        self._lock = threading.Lock()
        self._seen: Hashable = None
        self._loaded = False
        self._checked = -math.inf
        self._loading = False

    def get(self) -> T:
        now = self._monotonic()
        if self._loaded and now - self._checked < self._reload_s:
            return self._value
        with self._lock:
            if self._loaded and now - self._checked < self._reload_s:
                return self._value  # another caller just checked
            self._checked = now
            try:
                mark = self._mark()
            except OSError:
                log.exception("%s: cannot look at its files", self._name)
                return self._value
            if self._loaded and mark == self._seen:
                return self._value
            if not self._loaded or self._value is self._empty:
                self._apply(mark)  # nothing to serve meanwhile: the caller waits
            elif not self._loading:
                self._loading = True
                threading.Thread(target=self._background, args=(mark,), daemon=True).start()
            return self._value

    def _background(self, mark: Hashable) -> None:
        try:
            with self._lock:
                pass  # let the check that started us finish
            self._apply(mark)
        finally:
            self._loading = False

    def _apply(self, mark: Hashable) -> None:
        try:
            value = self._load()
        except Exception:
            log.exception("%s: could not be loaded; keeping the previous one", self._name)
            self._loaded = True
            return
        self._value = value
        self._loaded = True
        if not self._failed(value):
            self._seen = mark  # a broken value is tried again at the next check
