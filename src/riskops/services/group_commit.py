"""Group commit for the HTTP path: concurrent single-event requests share one transaction
(one fsync), so durable single-event ingest scales with concurrency instead of disk latency.
Every request is answered only after the transaction holding its event has committed."""

from __future__ import annotations

import asyncio
import contextlib

from riskops.services.ingest import IngestService, ItemResult, Prepared


class GroupCommitter:
    def __init__(self, ingest: IngestService, max_batch: int = 500) -> None:
        self._ingest = ingest
        self._max = max_batch
        self._queue: asyncio.Queue[tuple[list[Prepared], asyncio.Future[list[ItemResult]]]] = (
            asyncio.Queue()
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="riskops-group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def submit(self, prepared: list[Prepared]) -> list[ItemResult]:
        if not prepared:
            return []
        future: asyncio.Future[list[ItemResult]] = asyncio.get_running_loop().create_future()
        await self._queue.put((prepared, future))
        return await future

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            group = [first]
            size = len(first[0])
            while size < self._max and not self._queue.empty():
                item = self._queue.get_nowait()
                group.append(item)
                size += len(item[0])
            flat = [p for prepared, _ in group for p in prepared]
            try:
                results = await asyncio.to_thread(self._ingest.write, flat)
            except Exception as exc:  # delivered to every waiting request
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                continue
            offset = 0
            for prepared, future in group:
                if not future.done():
                    future.set_result(results[offset : offset + len(prepared)])
                offset += len(prepared)
