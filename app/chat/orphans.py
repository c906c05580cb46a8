"""Sessions a dead process left behind: their cut-off answers stored, then ended and summarised."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Container
from datetime import UTC, datetime

from app.chat.events import AssistantDone
from app.chat.records import frame_record, last_seq, unanswered
from app.chat.summarizer import Summarizer
from app.chat.tail import read_back
from app.store.base import EventRecord, NewEvent, Store

log = logging.getLogger(__name__)

# Enough of a log's end to find the answers a dead process left cut off.
_TAIL_TOKENS = 4000
# A dead process may have given out seqs it never stored (deltas); start well past them.
SEQ_GAP_AFTER_CRASH = 1_000_000


# What an answer had streamed before its process died, by message_id (a shared log keeps it).
StreamedParts = Callable[[], Awaitable[dict[str, str]]]


async def close_cut_off_answers(
    store: Store,
    session_id: str,
    events: list[EventRecord],
    parts: StreamedParts | None = None,
) -> int:
    """Store `interrupted` answers for questions left unanswered; return the seq to go on from.

    Each keeps the text it had streamed when `parts` knows it.
    """
    pending = unanswered(events)
    floor = last_seq(events)
    if not pending:
        return floor
    streamed = await parts() if parts is not None else {}
    floor += SEQ_GAP_AFTER_CRASH
    for question in pending:
        floor += 1
        message_id = str(question.metadata["message_id"])
        done = AssistantDone(
            message_id=message_id,
            content=streamed.get(message_id, ""),
            finish_reason="interrupted",
            seq=floor,
        )
        record = frame_record(session_id, done, {"provider": None, "reason": "process ended"})
        assert record is not None
        await store.add_event(record)
    return floor


async def end_orphans(store: Store, summarizer: Summarizer, *, live: Container[str]) -> int:
    """End every active session that has been connected but is not live here; how many."""
    ended = 0
    offset = 0
    while True:
        batch = await store.list_sessions(status="active", limit=500, offset=offset)
        if not batch:
            return ended
        for session in batch:
            if session.session_id in live:
                offset += 1
                continue
            if await end_orphan(store, summarizer, session.session_id):
                ended += 1
            else:
                offset += 1


def _connected(events: list[EventRecord]) -> bool:
    return any(e.event_type == "session_start" for e in events)


async def _whole(store: Store, session_id: str) -> list[EventRecord]:
    # Only for a long log whose end shows no connection: was it ever connected?
    return await store.list_events(session_id, limit=100_000)


async def end_orphan(
    store: Store, summarizer: Summarizer, session_id: str, parts: StreamedParts | None = None
) -> bool:
    """End one session left active by a process that is gone; False if it was never connected."""
    events, complete = await read_back(store, session_id, context_tokens=_TAIL_TOKENS)
    if not _connected(events) and (complete or not _connected(await _whole(store, session_id))):
        return False  # made over REST and never connected: not ours to end
    await close_cut_off_answers(store, session_id, events, parts)
    await store.add_event(
        NewEvent(session_id=session_id, event_type="session_end", metadata={"reason": "orphaned"})
    )
    await store.end_session(session_id, end_time=datetime.now(UTC))
    log.info("ended session %s left active by an earlier run", session_id)
    summarizer.schedule(session_id)
    return True
