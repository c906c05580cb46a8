"""A session's stored state at open, and how far back a replay can trust what the open read."""

from __future__ import annotations

from dataclasses import dataclass

from app.chat.orphans import StreamedParts, close_cut_off_answers
from app.chat.records import last_seq
from app.chat.tail import read_back
from app.store.base import AlreadyExists, EventRecord, NotFound, SessionRecord, Store


@dataclass(frozen=True, slots=True)
class StoredState:
    """What storage says about a session as it opens in this process.

    `events` is the end of the log: back to its latest `context_summary`, or enough for the
    context budget; `complete` when it is the whole log.
    """

    record: SessionRecord
    created: bool
    events: list[EventRecord]
    floor: int
    complete: bool = True


async def load_state(
    store: Store,
    session_id: str,
    user_id: str,
    *,
    create: bool,
    owner: str | None = None,
    context_tokens: int = 16000,
    parts: StreamedParts | None = None,
) -> StoredState:
    """Read (or create) the session; answers a dead process left open are stored first.

    With an `owner` (a signed-in user), anyone else's session is NotFound, nothing read or written.
    """
    record, created = await _load_or_create(store, session_id, user_id, create=create)
    if owner is not None and record.user_id != owner:
        raise NotFound(f"session '{session_id}' not found")
    if created:
        return StoredState(record=record, created=True, events=[], floor=0)
    events, complete = await read_back(store, session_id, context_tokens=context_tokens)
    floor = await close_cut_off_answers(store, session_id, events, parts) if events else 0
    if floor != last_seq(events):
        events, complete = await read_back(store, session_id, context_tokens=context_tokens)
    return StoredState(record=record, created=False, events=events, floor=floor, complete=complete)


async def _load_or_create(
    store: Store, session_id: str, user_id: str, *, create: bool
) -> tuple[SessionRecord, bool]:
    """The stored session (NotFound unless `create`), or a new one; True when created."""
    try:
        return await store.get_session(session_id), False
    except NotFound:
        if not create:
            raise
    try:
        return await store.create_session(session_id=session_id, user_id=user_id), True
    except AlreadyExists:  # another process made it a moment ago
        return await store.get_session(session_id), False


def checkpoints(
    events: list[EventRecord], *, every: int = 64, complete: bool = True
) -> list[tuple[int, int]]:
    """Every `every`-th event as (highest seq up to it, its id), for reading replays short.

    Of a log's end only (`complete` False), the first `every` events give no mark: a queued
    message stored just before them may carry a seq above theirs.
    """
    marks: list[tuple[int, int]] = []
    highest = 0
    for index, event in enumerate(events, start=1):
        seq = event.metadata.get("seq")
        if isinstance(seq, int):
            highest = max(highest, seq)
        if index % every == 0 and (complete or index > every):
            marks.append((highest, event.id))
    return marks
