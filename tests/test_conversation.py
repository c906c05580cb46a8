"""The conversation logic driven without a socket: events, storage, cancellation, resume."""

from __future__ import annotations

import asyncio

from app.chat.conversation import ChatOptions, Conversation
from app.chat.events import AssistantDelta, AssistantDone, ToolCall, ToolResult
from app.chat.tools import default_registry
from app.llm.local import LocalProvider
from app.store.base import Store

OPTIONS = ChatOptions(system_prompt="Be brief.")


async def _open(store: Store, session_id: str, *, delay_ms: float = 0) -> Conversation:
    conversation, _ = await Conversation.open(
        session_id=session_id,
        user_id="ann",
        store=store,
        provider=LocalProvider(delay_ms=delay_ms),
        tools=default_registry(),
        options=OPTIONS,
    )
    return conversation


async def test_a_reply_yields_deltas_then_done_and_stores_both_messages(store: Store) -> None:
    conversation = await _open(store, "c-1")
    events = [event async for event in conversation.reply("How do I reset my password?")]
    done = events[-1]
    assert isinstance(done, AssistantDone) and done.finish_reason == "stop"
    deltas = [e for e in events if isinstance(e, AssistantDelta)]
    assert len(deltas) > 10 and "".join(d.delta for d in deltas) == done.content
    await conversation.settle()
    stored = await store.list_events("c-1")
    assert [e.event_type for e in stored] == ["session_start", "user_message", "assistant_message"]
    assert stored[2].content == done.content and stored[2].metadata["message_id"] == done.message_id


async def test_a_tool_question_yields_call_and_result_before_the_answer(store: Store) -> None:
    conversation = await _open(store, "c-2")
    events = [event async for event in conversation.reply("Is the webcam in stock?")]
    kinds = [type(e) for e in events]
    assert kinds.index(ToolCall) < kinds.index(ToolResult) < kinds.index(AssistantDone)
    result = next(e for e in events if isinstance(e, ToolResult))
    assert result.result["in_stock"] is False
    assert "webcam" in events[-1].content.lower()  # type: ignore[union-attr]


async def test_cancelling_mid_answer_stores_the_partial_answer(store: Store) -> None:
    conversation = await _open(store, "c-3", delay_ms=20)
    turn = conversation.reply("Tell me everything about tides.")
    seen: list[str] = []

    async def consume() -> None:
        async for event in turn:
            if isinstance(event, AssistantDelta):
                seen.append(event.delta)

    task = asyncio.create_task(consume())
    while len(seen) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert turn.done is not None and turn.done.finish_reason == "cancelled"
    assert turn.done.content == "".join(seen)
    await conversation.close(reason="test")
    answer = [e for e in await store.list_events("c-3") if e.event_type == "assistant_message"]
    assert answer[0].content == "".join(seen)
    assert answer[0].metadata["finish_reason"] == "cancelled"


async def test_reopening_a_session_restores_its_history(store: Store) -> None:
    first = await _open(store, "c-4")
    [_ async for _ in first.reply("My favourite colour is teal.")]
    await first.close(reason="test")
    _, started = await Conversation.open(
        session_id="c-4",
        user_id="ann",
        store=store,
        provider=LocalProvider(),
        tools=default_registry(),
        options=OPTIONS,
    )
    assert started.resumed is True and started.history == 2
