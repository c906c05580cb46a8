"""The Supabase store: the official async client over PostgREST, for when only HTTPS gets out."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from postgrest import AsyncRequestBuilder
from postgrest.types import CountMethod
from pydantic import SecretStr

from app.config import Settings
from app.store.base import (
    EventRecord,
    NewEvent,
    NotFound,
    SessionRecord,
    SessionStatus,
    Unavailable,
)
from app.store.batching import GroupCommitter
from app.store.supabase_requests import PostgrestRequests, Query, Row, data
from app.store.supabase_rows import event_record, event_values, session_record

# Supabase caps a response at 1000 rows by default; turn counts page below that cap.
_PAGE = 1000
# Keeps `in.(…)` filters well under the URL lengths gateways accept.
_IDS_PER_REQUEST = 100


class SupabaseStore:
    """The storage interface on a Supabase project's REST API, with the service role key."""

    name = "supabase"

    def __init__(self, url: str, key: SecretStr, *, timeout: float = 30.0) -> None:
        self._api = PostgrestRequests(url, key, timeout=timeout)
        self._events = GroupCommitter(
            self._insert_events, self._insert_event, fails_batch=(Unavailable,)
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> SupabaseStore:
        """The store for SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY."""
        if not settings.supabase_url or settings.supabase_service_role_key is None:
            raise Unavailable("SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY must both be set")
        return cls(settings.supabase_url, settings.supabase_service_role_key)

    async def open(self) -> None:
        """Create the client and check that both tables answer (it cannot create them)."""
        try:
            await self._api.open()
            await self.ping()
            await self._rows(self._table("session_events").select("id").limit(1))
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Finish queued writes and close the HTTP connections."""
        await self._events.close()
        await self._api.close()

    async def ping(self) -> None:
        """Read at most one session id; Unavailable when that fails."""
        await self._rows(self._table("sessions").select("session_id").limit(1))

    async def create_session(
        self, *, session_id: str, user_id: str, metadata: dict[str, Any] | None = None
    ) -> SessionRecord:
        """Insert an active session; AlreadyExists when the id is taken."""
        values = {
            "session_id": session_id,
            "user_id": user_id,
            "start_time": datetime.now(UTC).isoformat(),
            "status": "active",
            "metadata": metadata or {},
        }
        rows = await self._rows(self._table("sessions").insert(values), session_id=session_id)
        return session_record(rows[0], turns=0)

    async def get_session(self, session_id: str) -> SessionRecord:
        """Return one session; NotFound when unknown."""
        query = self._table("sessions").select("*").eq("session_id", session_id)
        return await self._session_of(session_id, await self._rows(query))

    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        status: SessionStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[SessionRecord]:
        """Sessions newest first, optionally filtered by user and status."""
        query = self._table("sessions").select("*")
        if user_id is not None:
            query = query.eq("user_id", user_id)
        if status is not None:
            query = query.eq("status", status)
        query = query.order("start_time", desc=True).order("session_id", desc=True)
        return await self._with_turns(await self._rows(query.limit(limit).offset(offset)))

    async def reopen_session(self, session_id: str) -> SessionRecord:
        """Mark a session active again, clearing its end."""
        return await self._update(
            session_id, {"status": "active", "end_time": None, "duration_seconds": None}
        )

    async def end_session(self, session_id: str, *, end_time: datetime) -> SessionRecord:
        """Mark a session ended with its end time and duration."""
        found = await self.get_session(session_id)
        duration = max((end_time - found.start_time).total_seconds(), 0.0)
        values = {"status": "ended", "end_time": end_time.isoformat(), "duration_seconds": duration}
        return await self._update(session_id, values)

    async def add_event(self, event: NewEvent) -> EventRecord:
        """Store one event, sent in one request with concurrent ones; NotFound: unknown session."""
        return await self._events.submit(event)

    async def list_events(
        self, session_id: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[EventRecord]:
        """A session's events in id order after `after_id`."""
        query = (
            self._table("session_events")
            .select("*")
            .eq("session_id", session_id)
            .gt("id", after_id)
            .order("id")
            .limit(limit)
        )
        rows = await self._rows(query)
        if not rows:
            await self._require_session(session_id)
        return [event_record(row) for row in rows]

    async def tail_events(
        self, session_id: str, *, limit: int = 1000, before_id: int | None = None
    ) -> list[EventRecord]:
        """The latest `limit` events below `before_id`, newest first on the wire, in id order."""
        query = self._table("session_events").select("*").eq("session_id", session_id)
        if before_id is not None:
            query = query.lt("id", before_id)
        rows = await self._rows(query.order("id", desc=True).limit(limit))
        if not rows:
            await self._require_session(session_id)
        return [event_record(row) for row in reversed(rows)]

    async def export_events(
        self,
        *,
        after_id: int = 0,
        limit: int = 1000,
        since: datetime | None = None,
        until: datetime | None = None,
        user_id: str | None = None,
    ) -> list[EventRecord]:
        """Events in id order after `after_id`, in the range, of one user's sessions if given."""
        limit = min(limit, _PAGE)

        def page(session_ids: list[str] | None) -> Query:
            # A fresh builder each time: the client's builders add filters in place.
            query = self._table("session_events").select("*").gt("id", after_id)
            if since is not None:
                query = query.gte("created_at", since.isoformat())
            if until is not None:
                query = query.lt("created_at", until.isoformat())
            if session_ids is not None:
                query = query.in_("session_id", session_ids)
            return query.order("id").limit(limit)

        if user_id is None:
            return [event_record(row) for row in await self._rows(page(None))]
        ids = await self._session_ids_of(user_id)
        chunks = [ids[i : i + _IDS_PER_REQUEST] for i in range(0, len(ids), _IDS_PER_REQUEST)]
        # Each chunk's next page, merged: the smallest ids of them all are the next page.
        pages = await asyncio.gather(*(self._rows(page(chunk)) for chunk in chunks))
        rows = sorted((row for found in pages for row in found), key=lambda row: int(row["id"]))
        return [event_record(row) for row in rows[:limit]]

    async def _session_ids_of(self, user_id: str) -> list[str]:
        """Every session id of one user, paged under the server's row cap."""
        ids: list[str] = []
        while True:
            query = (
                self._table("sessions")
                .select("session_id")
                .eq("user_id", user_id)
                .order("session_id")
                .range(len(ids), len(ids) + _PAGE - 1)
            )
            page = [str(row["session_id"]) for row in await self._rows(query)]
            ids.extend(page)
            if len(page) < _PAGE:
                return ids

    async def set_summary(self, session_id: str, summary: str) -> SessionRecord:
        """Save a session's summary."""
        return await self._update(session_id, {"summary": summary})

    async def delete_session(self, session_id: str) -> None:
        """Delete a session; its events go by the database's cascade."""
        query = self._table("sessions").delete().eq("session_id", session_id).select("session_id")
        if not await self._rows(query):
            raise NotFound(f"session '{session_id}' not found")

    async def _insert_events(self, batch: list[NewEvent]) -> list[EventRecord]:
        """Insert a batch in one request (one statement, so all or none)."""
        rows = await self._rows(self._table("session_events").insert(event_values(batch)))
        # One INSERT numbers its rows in input order; sorting guards the answer's order.
        return [event_record(row) for row in sorted(rows, key=lambda row: int(row["id"]))]

    async def _insert_event(self, event: NewEvent) -> EventRecord:
        query = self._table("session_events").insert(event_values([event])[0])
        return event_record((await self._rows(query, session_id=event.session_id))[0])

    async def _update(self, session_id: str, values: Row) -> SessionRecord:
        query = self._table("sessions").update(values).eq("session_id", session_id)
        return await self._session_of(session_id, await self._rows(query))

    async def _require_session(self, session_id: str) -> None:
        query = self._table("sessions").select("session_id").eq("session_id", session_id)
        if not await self._rows(query):
            raise NotFound(f"session '{session_id}' not found")

    async def _session_of(self, session_id: str, rows: list[Row]) -> SessionRecord:
        if not rows:
            raise NotFound(f"session '{session_id}' not found")
        return (await self._with_turns(rows[:1]))[0]

    async def _with_turns(self, rows: list[Row]) -> list[SessionRecord]:
        """Session records with their user-message counts, read in a second request."""
        ids = [str(row["session_id"]) for row in rows]
        chunks = [ids[i : i + _IDS_PER_REQUEST] for i in range(0, len(ids), _IDS_PER_REQUEST)]
        counts = await asyncio.gather(*(self._count_turns(chunk) for chunk in chunks))
        turns = sum(counts, Counter[str]())
        return [session_record(row, turns=turns[row["session_id"]]) for row in rows]

    async def _count_turns(self, session_ids: list[str]) -> Counter[str]:
        """User messages per session, paged so the server's row cap cannot cut the count."""
        turns: Counter[str] = Counter()
        fetched = 0
        while True:
            query = (
                self._table("session_events")
                .select("session_id", count=CountMethod.exact)
                .eq("event_type", "user_message")
                .in_("session_id", session_ids)
                .order("id")
                .range(fetched, fetched + _PAGE - 1)
            )
            response = await self._api.send(query)
            turns.update(str(row["session_id"]) for row in data(response))
            fetched += len(response.data)
            if not response.data or fetched >= (response.count or 0):
                return turns

    def _table(self, name: str) -> AsyncRequestBuilder:
        return self._api.table(name)

    async def _rows(self, query: Query, *, session_id: str = "") -> list[Row]:
        return await self._api.rows(query, session_id=session_id)
