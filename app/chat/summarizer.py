"""Post-session summaries: built from stored events in tracked background tasks."""

from __future__ import annotations

import asyncio
import logging

from app.chat.summary import build_summary
from app.chat.tail import read_back
from app.llm.base import Provider
from app.store.base import EventRecord, SessionRecord, Store, StoreError

log = logging.getLogger(__name__)

# A long session is summarised from its start, its latest context summary and its end.
_HEAD_EVENTS = 50
_TAIL_TOKENS = 4000


async def session_digest(store: Store, session_id: str) -> list[EventRecord]:
    """The events a summary reads: the first ones, then the end back to the latest summary."""
    head = await store.list_events(session_id, limit=_HEAD_EVENTS)
    if len(head) < _HEAD_EVENTS:
        return head
    tail, _complete = await read_back(store, session_id, context_tokens=_TAIL_TOKENS)
    return [*(e for e in head if e.id < tail[0].id), *tail] if tail else head


class Summarizer:
    """Builds and saves summaries; background runs are tracked so shutdown can wait."""

    def __init__(self, store: Store, provider: Provider) -> None:
        self._store = store
        self._provider = provider
        self._pending: set[asyncio.Task[None]] = set()

    async def summarize(self, session_id: str) -> SessionRecord:
        """Build the summary from the stored events and save it; returns the session."""
        session = await self._store.get_session(session_id)
        events = await session_digest(self._store, session_id)
        summary = await build_summary(session, events, self._provider)
        return await self._store.set_summary(session_id, summary)

    def schedule(self, session_id: str) -> None:
        """Summarize in the background; failures are logged, never raised."""
        task = asyncio.get_running_loop().create_task(self._run(session_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for pending summaries, then cancel the rest."""
        if not self._pending:
            return
        _done, late = await asyncio.wait(set(self._pending), timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            log.warning("shutdown cancelled %d unfinished summaries", len(late))

    async def _run(self, session_id: str) -> None:
        try:
            await self.summarize(session_id)
        except StoreError as exc:
            log.warning("summary of session %s not saved: %s", session_id, exc)
        except Exception:
            log.exception("summary of session %s failed", session_id)
