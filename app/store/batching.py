"""Group commit: concurrent writes that arrive together are stored in one round trip."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from app import metrics

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommitter(Generic[Item, Result]):
    """Queues items and writes them in batches from one task.

    While a batch is in flight the next one gathers, so under load a write costs one
    batch's round trip instead of waiting behind every other writer's transaction.
    When a batch fails, its items are retried one by one, so that only the caller of an
    item the database refuses (a bad value, a missing parent) gets the error. Only a
    failure of one of `fails_batch` (the database is down) fails every item at once,
    also when it comes in the middle of the retries.
    """

    def __init__(
        self,
        write_many: Callable[[list[Item]], Awaitable[list[Result]]],
        write_one: Callable[[Item], Awaitable[Result]],
        *,
        fails_batch: tuple[type[Exception], ...] = (),
        max_batch: int = 500,
    ) -> None:
        self._write_many = write_many
        self._fails_batch = fails_batch
        self._write_one = write_one
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Queue one item and wait until it is stored; returns what the write returned."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        # A caller that gave up must not leave an unretrieved exception behind.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._pending.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._drain())
        # Shielded: a caller that gives up does not cancel the others' batch.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Wait for the writes already queued."""
        if self._worker is not None:
            await asyncio.gather(self._worker, return_exceptions=True)

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            items = [item for item, _ in batch]
            started = time.perf_counter()
            try:
                results = await self._write_many(items)
            except self._fails_batch as exc:
                metrics.batch_written(time.perf_counter() - started, len(items), failed=True)
                _fail(batch, exc)
                continue
            except Exception:
                metrics.batch_written(time.perf_counter() - started, len(items), failed=True)
                await self._one_by_one(batch)
                continue
            metrics.batch_written(time.perf_counter() - started, len(items))
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _one_by_one(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        for index, (item, future) in enumerate(batch):
            try:
                result = await self._write_one(item)
            except self._fails_batch as exc:
                _fail(batch[index:], exc)
                return
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)


def _fail(batch: list[tuple[Item, asyncio.Future[Result]]], exc: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
