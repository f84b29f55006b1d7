"""Group commit for the HTTP path: concurrent single-event requests share one transaction
(one fsync), so durable single-event ingest scales with concurrency instead of disk latency.

Two stages overlap: while one group is applied to the online state (on its own thread, in
commit order), the next group is already being appended. Every request is answered only after
the transaction holding its event has committed *and* the event is in the online state, so a
client that reads right after its write sees it."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor

from riskops.services.ingest import IngestService, ItemResult, Prepared
from riskops.stores.decision_base import DecisionRow

Waiter = tuple[list[Prepared], list[DecisionRow], asyncio.Future[list[ItemResult]]]


class GroupCommitter:
    def __init__(self, ingest: IngestService, max_batch: int = 500) -> None:
        self._ingest = ingest
        self._max = max_batch
        self._queue: asyncio.Queue[Waiter] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # one thread: groups reach the online state in commit (seq) order
        self._projecting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskops-state")
        self._answering: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="riskops-group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._answering:
            await asyncio.gather(*self._answering, return_exceptions=True)
        self._projecting.shutdown(wait=True)

    async def submit(
        self, prepared: list[Prepared], decisions: list[DecisionRow] | None = None
    ) -> list[ItemResult]:
        """Append ``prepared`` (and the decisions made on them, in the same transaction);
        answered once committed and in the online state."""
        if not prepared:
            return []
        future: asyncio.Future[list[ItemResult]] = asyncio.get_running_loop().create_future()
        await self._queue.put((prepared, decisions or [], future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            group = [first]
            size = len(first[0])
            while size < self._max and not self._queue.empty():
                item = self._queue.get_nowait()
                group.append(item)
                size += len(item[0])
            flat = [p for prepared, _, _ in group for p in prepared]
            made = [d for _, decisions, _ in group for d in decisions]
            try:
                results, appended = await asyncio.to_thread(self._ingest.append, flat, made)
            except Exception as exc:  # delivered to every waiting request
                for _, _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            projected = loop.run_in_executor(self._projecting, self._ingest.project, appended)
            task = asyncio.create_task(_answer(group, results, projected))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)


async def _answer(
    group: list[Waiter], results: list[ItemResult], projected: asyncio.Future[None]
) -> None:
    """Answer each request of a committed group once it is in the online state (projecting
    never raises: a failure is logged and the poller catches the state up)."""
    with contextlib.suppress(Exception):
        await projected
    offset = 0
    for prepared, _, future in group:
        if not future.done():
            future.set_result(results[offset : offset + len(prepared)])
        offset += len(prepared)
