"""One conversation: takes user messages and yields the contract's events, storing as it goes."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import orjson

from app.chat.events import (
    AssistantDelta,
    AssistantDone,
    ConversationEvent,
    ErrorFrame,
    SessionStarted,
    ToolCall,
    ToolResult,
)
from app.chat.tools import ToolRegistry
from app.llm.base import (
    LLMError,
    Message,
    Provider,
    StreamItem,
    TextDelta,
    ToolCallRequest,
    ToolSpec,
)
from app.store.base import AlreadyExists, EventRecord, NewEvent, Store, StoreError

log = logging.getLogger(__name__)

_HISTORY_ROLES = {"user_message": "user", "assistant_message": "assistant"}


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """How a conversation talks to its model."""

    system_prompt: str
    max_tool_rounds: int = 5
    max_history_messages: int = 200


def history_messages(events: list[EventRecord]) -> list[Message]:
    """The stored user and assistant messages as model history (tool traffic is in the answers)."""
    messages: list[Message] = []
    for event in events:
        role = _HISTORY_ROLES.get(event.event_type)
        if role == "user":
            messages.append({"role": "user", "content": event.content})
        elif role == "assistant" and event.content:
            messages.append({"role": "assistant", "content": event.content})
    return messages


class Conversation:
    """A session's conversation: history, store and provider; no transport."""

    def __init__(
        self,
        *,
        session_id: str,
        store: Store,
        provider: Provider,
        tools: ToolRegistry,
        options: ChatOptions,
        history: list[Message],
    ) -> None:
        self.session_id = session_id
        self._store = store
        self._provider = provider
        self._tools = tools
        self._tool_specs = tools.specs()
        self._options = options
        self._history = history
        self._answer_write: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        *,
        session_id: str,
        user_id: str,
        store: Store,
        provider: Provider,
        tools: ToolRegistry,
        options: ChatOptions,
    ) -> tuple[Conversation, SessionStarted]:
        """Create the session, or resume a known one with its stored history."""
        try:
            session = await store.create_session(session_id=session_id, user_id=user_id)
            resumed = False
        except AlreadyExists:
            session = await store.reopen_session(session_id)
            resumed = True
        history: list[Message] = []
        if resumed:
            events = await store.list_events(session_id, limit=100_000)
            history = history_messages(events)[-options.max_history_messages :]
        await store.add_event(
            NewEvent(
                session_id=session_id,
                event_type="session_start",
                metadata={"resumed": resumed, "user_id": user_id},
            )
        )
        conversation = cls(
            session_id=session_id,
            store=store,
            provider=provider,
            tools=tools,
            options=options,
            history=history,
        )
        started = SessionStarted(
            session_id=session.session_id,
            user_id=session.user_id,
            resumed=resumed,
            history=len(history),
        )
        return conversation, started

    def reply(self, text: str) -> Turn:
        """Start one answer to `text`; iterate the returned turn for its events."""
        return Turn(self, text)

    async def settle(self) -> None:
        """Wait until the last answer is stored."""
        if self._answer_write is not None:
            await self._answer_write

    async def close(self, *, reason: str) -> None:
        """Record why the connection ended (the session itself is ended by the caller)."""
        await self.settle()
        await self._store.add_event(
            NewEvent(
                session_id=self.session_id, event_type="session_end", metadata={"reason": reason}
            )
        )


class Turn:
    """One user message and its answer; iterating yields the contract's events.

    When the iterating task is cancelled, the partial answer is still stored with
    finish_reason `cancelled`, and `done` holds the final frame to send.
    """

    def __init__(self, conversation: Conversation, text: str) -> None:
        self._conv = conversation
        self.text = text
        self.message_id = f"msg_{uuid.uuid4().hex[:16]}"
        self.done: AssistantDone | None = None
        self._parts: list[str] = []
        self._finish = "stop"
        self._usage: dict[str, int] = {}
        self._started = time.perf_counter()
        self._first_token_ms: float | None = None
        self._tool_calls = 0

    async def __aiter__(self) -> AsyncIterator[ConversationEvent]:
        conv = self._conv
        await conv.settle()
        # The model starts while the question is written; nothing is sent before it is stored.
        question = asyncio.ensure_future(
            conv._store.add_event(
                NewEvent(session_id=conv.session_id, event_type="user_message", content=self.text)
            )
        )
        conv._history.append({"role": "user", "content": self.text})
        failure: ErrorFrame | None = None
        try:
            async with aclosing(self._rounds()) as rounds:
                async for event in rounds:
                    await question
                    yield event
        except LLMError as exc:
            self._finish = "error"
            failure = ErrorFrame(code="llm_error", message=str(exc))
        except asyncio.CancelledError:
            self._finish = "cancelled"
            raise
        finally:
            await self._close(question)
        if failure is not None:
            yield failure
        assert self.done is not None
        yield self.done

    async def _close(self, question: asyncio.Future[EventRecord]) -> None:
        """Once the question is stored, store the answer; a lost question loses its answer too."""
        try:
            await question
        except StoreError:
            self._conv._history.pop()
            raise
        self._finalise()

    async def _rounds(self) -> AsyncGenerator[ConversationEvent, None]:
        conv = self._conv
        messages: list[Message] = [
            {"role": "system", "content": conv._options.system_prompt},
            *conv._history,
        ]
        for round_number in range(conv._options.max_tool_rounds + 1):
            # The last round offers no tools, so the model must answer in words.
            offered = conv._tool_specs if round_number < conv._options.max_tool_rounds else []
            calls: list[ToolCallRequest] = []
            async for event in self._stream(messages, offered, calls):
                yield event
            if self._finish != "tool_calls" or not calls:
                return
            async for event in self._run_tools(messages, calls):
                yield event

    async def _stream(
        self, messages: list[Message], tools: list[ToolSpec], calls: list[ToolCallRequest]
    ) -> AsyncIterator[ConversationEvent]:
        # Closed at once on any exit, so a cancelled answer stops the model's HTTP stream.
        async with aclosing(self._conv._provider.stream(messages, tools)) as stream:
            async for item in stream:
                event = self._take(item, calls)
                if event is not None:
                    yield event

    def _take(self, item: StreamItem, calls: list[ToolCallRequest]) -> ConversationEvent | None:
        """Record one provider item; return the frame it becomes, if any."""
        if isinstance(item, TextDelta):
            if self._first_token_ms is None:
                self._first_token_ms = (time.perf_counter() - self._started) * 1000
            self._parts.append(item.text)
            return AssistantDelta(message_id=self.message_id, delta=item.text)
        if isinstance(item, ToolCallRequest):
            calls.append(item)
            return ToolCall(
                message_id=self.message_id,
                call_id=item.call_id,
                name=item.name,
                arguments=item.arguments,
            )
        self._finish = item.reason
        for key, value in (item.usage or {}).items():
            self._usage[key] = self._usage.get(key, 0) + value
        return None

    async def _run_tools(
        self, messages: list[Message], calls: list[ToolCallRequest]
    ) -> AsyncIterator[ConversationEvent]:
        conv = self._conv
        messages.append(
            {
                "role": "assistant",
                "content": "".join(self._parts) or None,
                "tool_calls": [
                    {
                        "id": call.call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": _json(call.arguments)},
                    }
                    for call in calls
                ],
            }
        )
        for call in calls:
            self._tool_calls += 1
            result = await conv._tools.run(call.name, call.arguments)
            await self._store_tool_events(call, result)
            messages.append(
                {"role": "tool", "tool_call_id": call.call_id, "content": _json(result)}
            )
            yield ToolResult(
                message_id=self.message_id, call_id=call.call_id, name=call.name, result=result
            )

    async def _store_tool_events(self, call: ToolCallRequest, result: Any) -> None:
        conv = self._conv
        common = {"call_id": call.call_id, "name": call.name, "message_id": self.message_id}
        await conv._store.add_event(
            NewEvent(
                session_id=conv.session_id,
                event_type="tool_call",
                content=_json(call.arguments),
                metadata={**common, "arguments": call.arguments},
            )
        )
        await conv._store.add_event(
            NewEvent(
                session_id=conv.session_id,
                event_type="tool_result",
                content=_json(result),
                metadata={**common, "result": result},
            )
        )

    def _finalise(self) -> None:
        """Store the answer however it ended, and build the done frame."""
        conv = self._conv
        content = "".join(self._parts)
        reason = (
            self._finish if self._finish in ("stop", "cancelled", "error", "length") else "stop"
        )
        usage = self._usage or None
        self.done = AssistantDone(
            message_id=self.message_id,
            content=content,
            finish_reason=reason,  # type: ignore[arg-type]
            usage=usage,
        )
        if content:
            conv._history.append({"role": "assistant", "content": content})
        metadata = {
            "message_id": self.message_id,
            "finish_reason": reason,
            "provider": conv._provider.name,
            "model": conv._provider.model,
            "ttft_ms": None if self._first_token_ms is None else round(self._first_token_ms, 2),
            "total_ms": round((time.perf_counter() - self._started) * 1000, 2),
            "tool_calls": self._tool_calls,
            "usage": usage,
        }
        answer = NewEvent(
            session_id=conv.session_id,
            event_type="assistant_message",
            content=content,
            metadata=metadata,
        )
        # The write goes on while `done` is sent; the next turn and the session's end wait for it.
        conv._answer_write = asyncio.get_running_loop().create_task(self._write(answer))

    async def _write(self, answer: NewEvent) -> None:
        try:
            await self._conv._store.add_event(answer)
        except StoreError as exc:
            log.error(
                "answer %s of session %s not stored: %s", self.message_id, answer.session_id, exc
            )


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()
