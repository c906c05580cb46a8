"""Compaction: the oldest turns folded into a stored, announced summary, in one model call."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from app.chat.context import ContextWindow
from app.chat.durable import DurableWriter
from app.chat.events import ContextCompacted, ConversationFrame
from app.chat.folding import fold_prompt, local_fold
from app.chat.history import ContextSummary, Turn, truncate_text
from app.chat.records import frame_record
from app.llm.base import LLMError, Provider
from app.store.base import Store

log = logging.getLogger(__name__)


class Compactor:
    """Folds a session's oldest turns when the next call would not fit its budget."""

    def __init__(
        self,
        *,
        session_id: str,
        store: Store,
        writer: DurableWriter,
        provider: Provider,
        publish: Callable[[ConversationFrame], Awaitable[ConversationFrame]],
    ) -> None:
        self._session_id = session_id
        self._store = store
        self._writer = writer
        self._provider = provider
        self._publish = publish

    async def compact(
        self, window: ContextWindow, *, tokens_before: int, tools_tokens: int
    ) -> bool:
        """Fold what the plan says, store and announce the summary; False when nothing folded."""
        count = window.fold_plan(tools_tokens=tools_tokens)
        if count == 0:
            return False
        covers = await self._covers_through(window.turns[count])
        previous = window.summary
        if covers is None or (previous is not None and covers <= previous.covers_through_id):
            return False  # that range is folded already: never twice
        text = await self._summarise(window, window.turns[:count])
        window.apply_fold(count, ContextSummary(text=text, covers_through_id=covers))
        tokens_after = window.project(window.messages(), tools_tokens=tools_tokens)
        frame = await self._publish(
            ContextCompacted(
                covers_through_id=covers,
                summary=text,
                tokens_before=tokens_before,
                tokens_after=tokens_after,
            )
        )
        record = frame_record(self._session_id, frame)
        assert record is not None
        await self._writer.write(record)
        log.info(
            "session %s: %d turns folded through event %d (%d -> %d tokens)",
            self._session_id,
            count,
            covers,
            tokens_before,
            tokens_after,
        )
        return True

    async def _covers_through(self, first_kept: Turn) -> int | None:
        """The id of the last stored event before the first turn that stays."""
        if first_kept.first_event_id is None:
            return None
        before = await self._store.tail_events(
            self._session_id, limit=1, before_id=first_kept.first_event_id
        )
        return before[-1].id if before else None

    async def _summarise(self, window: ContextWindow, turns: list[Turn]) -> str:
        """The provider's summary when it writes them (one call), else the deterministic one."""
        budget = window.budget
        if self._provider.writes_summaries:
            prompt = fold_prompt(
                window.summary,
                turns,
                max_tokens=int(budget.call_limit / window.ratio),
                summary_tokens=budget.summary_tokens,
            )
            try:
                written = (await self._provider.complete(prompt)).strip()
            except LLMError as exc:
                log.warning("session %s: summary by the model failed: %s", self._session_id, exc)
                written = ""
            if written:
                return truncate_text(written, budget.summary_tokens)
        return local_fold(window.summary, turns, max_tokens=budget.summary_tokens)
