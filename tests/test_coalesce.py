"""Joining the text pieces a provider gives together: order, bounds of a join, errors, closing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing

import pytest

from app.llm.base import Finish, LLMError, StreamItem, TextDelta, ToolCallRequest
from app.llm.coalesce import coalesce

CALL = ToolCallRequest(call_id="c1", name="get_time", arguments={})


async def _ready(items: list[StreamItem]) -> AsyncGenerator[StreamItem, None]:
    for item in items:
        yield item


async def _collect(stream: AsyncGenerator[StreamItem, None]) -> list[StreamItem]:
    return [item async for item in coalesce(stream)]


async def test_pieces_ready_together_leave_as_one_and_other_items_keep_their_place() -> None:
    items: list[StreamItem] = [
        TextDelta("a"),
        TextDelta("b"),
        CALL,
        TextDelta("c"),
        TextDelta("d"),
        Finish("stop"),
    ]
    assert await _collect(_ready(items)) == [
        TextDelta("ab"),
        CALL,
        TextDelta("cd"),
        Finish("stop"),
    ]


async def test_a_piece_that_arrives_alone_leaves_alone_at_once() -> None:
    gate = asyncio.Event()

    async def paced() -> AsyncGenerator[StreamItem, None]:
        yield TextDelta("first")
        await gate.wait()  # the model is still thinking
        yield TextDelta(" second")
        yield Finish("stop")

    stream = coalesce(paced())
    assert await anext(stream) == TextDelta("first")  # not held back for the second
    gate.set()
    assert [item async for item in stream] == [TextDelta(" second"), Finish("stop")]


async def test_the_models_error_comes_after_the_pieces_it_gave() -> None:
    async def failing() -> AsyncGenerator[StreamItem, None]:
        yield TextDelta("partial")
        raise LLMError("model went away")

    seen: list[StreamItem] = []
    with pytest.raises(LLMError, match="model went away"):
        async for item in coalesce(failing()):
            seen.append(item)
    assert seen == [TextDelta("partial")]


async def _endless(closed: asyncio.Event) -> AsyncGenerator[StreamItem, None]:
    try:
        yield TextDelta("a")
        await asyncio.Event().wait()  # a model that never says more
        yield TextDelta("never sent")
    finally:
        closed.set()


async def test_closing_the_consumer_closes_the_models_stream() -> None:
    closed = asyncio.Event()
    stream = coalesce(_endless(closed))
    assert await anext(stream) == TextDelta("a")
    await stream.aclose()
    assert closed.is_set()


async def test_cancelling_the_answer_closes_the_models_stream() -> None:
    closed, first = asyncio.Event(), asyncio.Event()

    async def answer() -> None:
        async with aclosing(coalesce(_endless(closed))) as stream:
            async for _item in stream:
                first.set()

    task = asyncio.ensure_future(answer())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed.is_set()
