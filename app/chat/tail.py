"""Reading a session's log from its end: what a long session's context and summary need."""

from __future__ import annotations

from app.llm.tokens import estimate_text
from app.store.base import EventRecord, Store

# Events read per step when reading a session's log backwards from its end.
TAIL_PAGE = 500


async def read_back(
    store: Store, session_id: str, *, context_tokens: int, page: int = TAIL_PAGE
) -> tuple[list[EventRecord], bool]:
    """The log's end, read backwards a page at a time: back to the latest `context_summary`,
    or until it holds twice `context_tokens` (estimated); True when that is the whole log."""
    events: list[EventRecord] = []
    tokens = 0
    while True:
        before = events[0].id if events else None
        older = await store.tail_events(session_id, limit=page, before_id=before)
        events[:0] = older
        if len(older) < page:
            return events, True
        covers = [e.metadata.get("covers_through_id") for e in older]
        covered = max((c for c in covers if isinstance(c, int)), default=None)
        if covered is not None:
            if events[0].id > covered + 1:  # the turn that was running as it was folded
                events[:0] = await store.tail_events(session_id, limit=page, before_id=events[0].id)
            return events, False
        tokens += sum(estimate_text(e.content) for e in older)
        if tokens >= 2 * context_tokens:
            return events, False
