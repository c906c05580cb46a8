"""Opening a session in this process: its stored state read (or created) and made live."""

from __future__ import annotations

from app.chat.context import StoredContext
from app.chat.loading import load_state
from app.chat.records import client_message_ids
from app.chat.replay import opened
from app.chat.services import SessionServices
from app.chat.session import Session


async def open_session(
    services: SessionServices,
    *,
    session_id: str,
    user_id: str,
    create: bool,
    owner: str | None = None,
) -> Session:
    """Load a known session (NotFound unless `create`), or create it; not yet activated.

    With an `owner`, a session of anyone else is NotFound, before its events are read.
    """
    options = services.options
    state = await load_state(
        services.store,
        session_id,
        user_id,
        create=create,
        owner=owner,
        context_tokens=options.context_tokens,
        parts=lambda: services.log.streamed_parts(session_id),
    )
    events = state.events
    last = await services.log.open(session_id, floor=state.floor)
    return Session(
        services,
        session_id=session_id,
        user_id=state.record.user_id,
        resumed=not state.created,
        context=StoredContext(
            system_prompt=options.system_prompt,
            context_tokens=options.context_tokens,
            events=events,
        ),
        known=client_message_ids(events),
        last_seq=last,
        stored=opened(events, complete=state.complete),
    )
