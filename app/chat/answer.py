"""One user message and its answer, driven from the model to the log and the store."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TypeVar

from app import metrics
from app.chat.compaction import Compactor
from app.chat.context import ContextWindow
from app.chat.durable import DurableWriter
from app.chat.events import (
    AssistantDelta,
    AssistantDone,
    ConversationFrame,
    ErrorFrame,
    UserMessageEcho,
)
from app.chat.history import Turn, pair_tool_calls
from app.chat.records import frame_record
from app.chat.tools import ToolRegistry
from app.chat.turn import TurnState
from app.llm.base import LLMError, Message, Provider, ToolSpec
from app.llm.coalesce import coalesce
from app.llm.tokens import estimate_tools
from app.pricing import ModelPrice, answer_cost
from app.store.base import EventRecord, InvalidValue, Store, StoreError
from app.vocabulary import FinishReason

log = logging.getLogger(__name__)

F = TypeVar("F", bound=ConversationFrame)
Publish = Callable[[F], Awaitable[F]]


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """How a conversation talks to its model."""

    system_prompt: str
    max_tool_rounds: int = 5
    prices: Mapping[str, ModelPrice] = field(default_factory=dict)
    context_tokens: int = 16000


@dataclass(frozen=True, slots=True)
class AnswerContext:
    """What every answer of one session uses: its id, model, tools, store, log and context."""

    session_id: str
    store: Store
    writer: DurableWriter
    provider: Provider
    tools: ToolRegistry
    options: ChatOptions
    publish: Callable[[ConversationFrame], Awaitable[ConversationFrame]]
    window: ContextWindow
    compactor: Compactor


class Answer:
    """The answer to one accepted user message; `cancel()` at any moment still ends it with done.

    The model runs in a task of its own, so cancelling it never cancels the storing around it.
    """

    def __init__(self, ctx: AnswerContext, question: UserMessageEcho):
        self.question = question
        self.message_id = question.message_id
        self._ctx = ctx
        self._turn: Turn | None = None
        self._state = TurnState(question.message_id)
        self._cancel_reason: FinishReason | None = None
        self._model: asyncio.Task[None] | None = None
        self._stored_question: asyncio.Future[EventRecord] | None = None
        self.written: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def cancel(self, reason: FinishReason = "cancelled") -> None:
        """Stop the answer (also before it started); it ends with `reason`."""
        if self._cancel_reason is None:
            self._cancel_reason = reason
        if self._model is not None:
            self._model.cancel()

    def store_question(self) -> None:
        """Start storing the question now: one waiting its turn is kept if the process dies."""
        if self._stored_question is None:
            record = frame_record(self._ctx.session_id, self.question)
            assert record is not None
            self._stored_question = asyncio.ensure_future(self._ctx.store.add_event(record))

    async def run(self) -> AssistantDone:
        """Store the question, stream the answer, publish its done, start storing it."""
        ctx = self._ctx
        self.store_question()
        stored_question = self._stored_question
        assert stored_question is not None
        turn = self._turn = ctx.window.begin(self.message_id, self.question.content)
        reason = self._cancel_reason
        if reason is None:
            self._model = asyncio.get_running_loop().create_task(self._rounds())
            stored_question.add_done_callback(self._stop_if_lost)
            await asyncio.wait({self._model})
            reason = await self._outcome(self._model)
        try:
            await self._question_stored()
        except StoreError as exc:
            return await self._question_lost(exc)
        done = await ctx.publish(self._state.done(reason))
        assert isinstance(done, AssistantDone)
        # A call cut off before its result must not reach the model: the API refuses it.
        turn.messages[:] = pair_tool_calls(turn.messages)
        if done.content:
            turn.messages.append({"role": "assistant", "content": done.content})
        asyncio.get_running_loop().create_task(self._store_answer(done))
        return done

    def _stop_if_lost(self, stored_question: asyncio.Future[EventRecord]) -> None:
        # The model runs while the question is being stored; once it cannot be, it stops.
        if self._model is not None and (stored_question.cancelled() or stored_question.exception()):
            self._model.cancel()

    async def _outcome(self, model: asyncio.Task[None]) -> FinishReason | None:
        if model.cancelled():
            return self._cancel_reason or "cancelled"
        failure = model.exception()
        if failure is None:
            return self._cancel_reason
        if isinstance(failure, LLMError):
            await self._ctx.publish(
                ErrorFrame(code="llm_error", message=str(failure), message_id=self.message_id)
            )
            return "error"
        if not isinstance(failure, StoreError):
            log.error("answer %s failed", self.message_id, exc_info=failure)
            await self._ctx.publish(
                ErrorFrame(
                    code="internal_error",
                    message="the answer failed; try again",
                    message_id=self.message_id,
                )
            )
        return "error"

    async def _question_lost(self, exc: StoreError) -> AssistantDone:
        log.warning("session %s: question not stored: %s", self._ctx.session_id, exc)
        if self._turn is not None:
            self._ctx.window.drop(self._turn)
        refused = isinstance(exc, InvalidValue)
        await self._ctx.publish(
            ErrorFrame(
                code="invalid_message" if refused else "storage_unavailable",
                message="the message cannot be stored as sent"
                if refused
                else "the message could not be stored",
                message_id=self.message_id,
            )
        )
        done = await self._ctx.publish(self._state.done("error"))
        assert isinstance(done, AssistantDone)
        self.written.set_result(False)
        return done

    async def _question_stored(self) -> EventRecord:
        """The stored question, its id noted on the turn (a fold's range ends before it)."""
        stored_question = self._stored_question
        assert stored_question is not None
        if not stored_question.done():
            # Shielded: a cancelled answer must not cancel the write of its question.
            await asyncio.shield(stored_question)
        stored = stored_question.result()  # once written, every frame asks again: no new future
        if self._turn is not None:
            self._turn.first_event_id = stored.id
        return stored

    async def _rounds(self) -> None:
        ctx = self._ctx
        specs = ctx.tools.specs()
        for round_number in range(ctx.options.max_tool_rounds + 1):
            # The last round offers no tools, so the model must answer in words.
            offered = specs if round_number < ctx.options.max_tool_rounds else []
            tools_tokens = estimate_tools(offered)
            messages = await self._fit(tools_tokens)
            self._state.start_round()
            async for frame in self._stream(messages, offered):
                await self._publish_and_store(frame)
            if self._state.round_prompt_tokens is not None:
                ctx.window.record(
                    self._state.round_prompt_tokens, messages=messages, tools_tokens=tools_tokens
                )
            if not self._state.wants_tools:
                return
            await self._run_tools()

    async def _fit(self, tools_tokens: int) -> list[Message]:
        """The call's messages, after folding the oldest turns if they would not fit."""
        window = self._ctx.window
        messages = window.messages()
        tokens = window.project(messages, tools_tokens=tools_tokens)
        if tokens <= window.budget.call_limit:
            return messages
        # The fold's range ends before this turn's question, so that must be stored first.
        await self._question_stored()
        try:
            folded = await self._ctx.compactor.compact(
                window, tokens_before=tokens, tools_tokens=tools_tokens
            )
        except StoreError as exc:
            log.warning("session %s: compaction skipped: %s", self._ctx.session_id, exc)
            folded = False
        return window.messages() if folded else messages

    async def _stream(
        self, messages: list[Message], tools: list[ToolSpec]
    ) -> AsyncIterator[ConversationFrame]:
        # Closed at once on any exit, so a cancelled answer stops the model's HTTP stream;
        # pieces the model gave while the last frame went out leave as one.
        async with aclosing(coalesce(self._ctx.provider.stream(messages, tools))) as stream:
            async for item in stream:
                frame = self._state.handle(item)
                if frame is not None:
                    yield frame

    async def _run_tools(self) -> None:
        assert self._turn is not None
        messages = self._turn.messages
        messages.append(self._state.tool_request())
        for call in self._state.calls:
            result = await self._ctx.tools.run(call.name, call.arguments)
            frame, message = self._state.tool_result(call, result)
            messages.append(self._ctx.window.tool_message(message))
            await self._publish_and_store(frame)

    async def _publish_and_store(self, frame: ConversationFrame) -> None:
        # The model is asked while the question is being written, but no frame of the answer
        # leaves before the question is stored (the contract's order, on the wire as in the
        # database); a lost question stops the answer here and the run reports it.
        await self._question_stored()  # no loop turn once it is stored
        numbered = await self._ctx.publish(frame)
        if isinstance(numbered, AssistantDelta):
            return  # not stored: the answer's done carries the whole text
        record = frame_record(self._ctx.session_id, numbered)
        if record is not None:
            await self._ctx.writer.write(record)

    async def _store_answer(self, done: AssistantDone) -> None:
        provider = self._ctx.provider
        timings = self._state.timings()
        cost = answer_cost(self._ctx.options.prices, provider.model, done.usage)
        metrics.answer_timed(timings, model=provider.model, cost_usd=cost)
        extra = {
            "provider": provider.name,
            "model": provider.model,
            **timings,
            **self._ctx.window.counted_metadata(),
        }
        if cost is not None:
            extra["cost_usd"] = cost
        record = frame_record(self._ctx.session_id, done, extra)
        assert record is not None
        stored = False
        try:
            stored = await self._ctx.writer.write(record, on_failure=self._tell_not_stored)
        finally:
            # The session's next turn and its end wait for this, whatever happened.
            self.written.set_result(stored)

    async def _tell_not_stored(self) -> None:
        await self._ctx.publish(
            ErrorFrame(
                code="storage_unavailable",
                message="the answer could not be stored yet; it is kept and retried",
                message_id=self.message_id,
            )
        )
