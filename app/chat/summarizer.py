"""Post-session summaries: built from stored events in tracked background tasks."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Protocol

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


# How long a claimed summary stays ours before another process may build it instead.
CLAIM_SECONDS = 120.0


class SummaryClaims(Protocol):
    """Exactly one summary per end of a session across processes (app/store/leases.py)."""

    async def claim_summary(self, session_id: str, *, seconds: float) -> datetime | None:
        """The end whose summary is now ours to write, or None."""
        ...

    async def finish_summary(self, session_id: str, *, ended: datetime, summary: str) -> bool:
        """Save the summary of the end claimed; False if it has one already."""
        ...


class Summarizer:
    """Builds and saves summaries; background runs are tracked so shutdown can wait.

    With `claims` (several processes), a scheduled summary is built only by the process
    that claims the session's latest end, and stored once with its `summary` event.
    """

    def __init__(
        self, store: Store, provider: Provider, claims: SummaryClaims | None = None
    ) -> None:
        self._store = store
        self._provider = provider
        self.claims = claims
        self._pending: set[asyncio.Task[None]] = set()

    async def summarize(
        self, session_id: str, session: SessionRecord | None = None
    ) -> SessionRecord:
        """Build the summary from the stored events and save it; returns the session.

        `session`: the session as its end just stored it, so it is not read again.
        """
        summary = await self._build(session_id, session)
        return await self._store.set_summary(session_id, summary)

    async def _build(self, session_id: str, session: SessionRecord | None = None) -> str:
        if session is None:
            session = await self._store.get_session(session_id)
        events = await session_digest(self._store, session_id)
        return await build_summary(session, events, self._provider)

    def schedule(self, session_id: str, session: SessionRecord | None = None) -> None:
        """Summarize in the background (`session` as its end stored it); failures are logged."""
        task = asyncio.get_running_loop().create_task(self._run(session_id, session))
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

    async def _claimed(self, session_id: str, claims: SummaryClaims) -> None:
        ended = await claims.claim_summary(session_id, seconds=CLAIM_SECONDS)
        if ended is None:
            return  # summarised already, or another process is at it
        summary = await self._build(session_id)
        await claims.finish_summary(session_id, ended=ended, summary=summary)

    async def _run(self, session_id: str, session: SessionRecord | None) -> None:
        try:
            if self.claims is not None:
                await self._claimed(session_id, self.claims)
            else:
                await self.summarize(session_id, session)
        except StoreError as exc:
            log.warning("summary of session %s not saved: %s", session_id, exc)
        except Exception:
            log.exception("summary of session %s failed", session_id)
