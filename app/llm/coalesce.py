"""A provider's items as they become ready, with text pieces that are ready together joined."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import aclosing, suppress

from app.llm.base import StreamItem, TextDelta


def join_ready(items: deque[StreamItem]) -> StreamItem:
    """Take the next item; a text piece takes every text piece right behind it along."""
    item = items.popleft()
    if not isinstance(item, TextDelta) or not items or not isinstance(items[0], TextDelta):
        return item
    parts = [item.text]
    while items and isinstance(items[0], TextDelta):
        parts.append(items.popleft().text)  # type: ignore[union-attr]  # checked just above
    return TextDelta("".join(parts))


async def coalesce(
    stream: AsyncGenerator[StreamItem, None],
) -> AsyncGenerator[StreamItem, None]:
    """Yield `stream`'s items in order, pieces that arrived while the last one was handled as one.

    A fast model (or a burst after a network stall) gives many pieces between two turns of
    the event loop; each would cost a frame through the log, every subscriber and its
    outbox. The stream runs in a task of its own, so a slow consumer never holds it back;
    a piece that arrives alone leaves alone, at once. Closing this closes `stream` (a
    cancelled answer stops the model's HTTP stream); its error is raised after its items.
    """
    items: deque[StreamItem] = deque()
    ready = asyncio.Event()
    ended: list[BaseException | None] = []

    async def pump() -> None:
        failure: BaseException | None = None
        try:
            async with aclosing(stream) as source:
                async for item in source:
                    items.append(item)
                    ready.set()
        except Exception as exc:  # handed to the consumer, raised there
            failure = exc
        finally:
            ended.append(failure)
            ready.set()

    task = asyncio.get_running_loop().create_task(pump())
    try:
        while True:
            await ready.wait()
            ready.clear()
            while items:
                yield join_ready(items)
            if ended:
                if ended[0] is not None:
                    raise ended[0]
                return
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
