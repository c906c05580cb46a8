"""One user's view of a store: their sessions only; anyone else's session is NotFound."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.store.base import (
    EventRecord,
    NewEvent,
    NotFound,
    SessionRecord,
    SessionStatus,
    Store,
)


class ScopedStore:
    """The storage verbs for one owner, checked before each call; the service uses the store itself.

    A session's owner never changes, so one check per session is enough for the life of a
    view (one request, or one WebSocket connection), which keeps the conversation's event
    writes at one query each. The error for another user's session is the one for an unknown
    session, so ids do not leak.
    """

    def __init__(self, store: Store, owner: str) -> None:
        self._store = store
        self.owner = owner
        self.name = store.name
        self._owned: set[str] = set()

    async def open(self) -> None:
        """The store underneath is opened by the app, not by one user's view."""

    async def close(self) -> None:
        """Nothing of its own to release."""

    async def ping(self) -> None:
        """Ping the store underneath."""
        await self._store.ping()

    async def create_session(
        self, *, session_id: str, user_id: str, metadata: dict[str, Any] | None = None
    ) -> SessionRecord:
        """Create a session owned by this user, whatever `user_id` says."""
        created = await self._store.create_session(
            session_id=session_id, user_id=self.owner, metadata=metadata
        )
        self._owned.add(session_id)
        return created

    async def get_session(self, session_id: str) -> SessionRecord:
        """This user's session; NotFound when unknown or someone else's."""
        session = await self._store.get_session(session_id)
        if session.user_id != self.owner:
            raise NotFound(f"session '{session_id}' not found")
        self._owned.add(session_id)
        return session

    async def _check(self, session_id: str) -> None:
        if session_id not in self._owned:
            await self.get_session(session_id)

    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        status: SessionStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[SessionRecord]:
        """This user's sessions; a filter naming someone else finds nothing."""
        if user_id is not None and user_id != self.owner:
            return []
        return await self._store.list_sessions(
            user_id=self.owner, status=status, limit=limit, offset=offset
        )

    async def reopen_session(self, session_id: str) -> SessionRecord:
        """Reopen this user's session."""
        await self._check(session_id)
        return await self._store.reopen_session(session_id)

    async def end_session(self, session_id: str, *, end_time: datetime) -> SessionRecord:
        """End this user's session."""
        await self._check(session_id)
        return await self._store.end_session(session_id, end_time=end_time)

    async def add_event(self, event: NewEvent) -> EventRecord:
        """Store an event in this user's session."""
        await self._check(event.session_id)
        return await self._store.add_event(event)

    async def list_events(
        self, session_id: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[EventRecord]:
        """The events of this user's session."""
        await self._check(session_id)
        return await self._store.list_events(session_id, after_id=after_id, limit=limit)

    async def tail_events(
        self, session_id: str, *, limit: int = 1000, before_id: int | None = None
    ) -> list[EventRecord]:
        """The latest events of this user's session."""
        await self._check(session_id)
        return await self._store.tail_events(session_id, limit=limit, before_id=before_id)

    async def export_events(
        self,
        *,
        after_id: int = 0,
        limit: int = 1000,
        since: datetime | None = None,
        until: datetime | None = None,
        user_id: str | None = None,
    ) -> list[EventRecord]:
        """This user's events in the range; a filter naming someone else finds nothing."""
        if user_id is not None and user_id != self.owner:
            return []
        return await self._store.export_events(
            after_id=after_id, limit=limit, since=since, until=until, user_id=self.owner
        )

    async def set_summary(self, session_id: str, summary: str) -> SessionRecord:
        """Save the summary of this user's session."""
        await self._check(session_id)
        return await self._store.set_summary(session_id, summary)

    async def delete_session(self, session_id: str) -> None:
        """Delete this user's session."""
        await self._check(session_id)
        self._owned.discard(session_id)
        await self._store.delete_session(session_id)
