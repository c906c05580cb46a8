"""The SQL store: SQLAlchemy 2 async Core on SQLite (aiosqlite) or PostgreSQL (asyncpg).

What differs between the two (engine settings, how an event batch is written) is the
dialect's, chosen once from the URL (`sql_dialects`); everything here is one path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import Connection, select, text
from sqlalchemy.engine import URL, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.store import sql_writes
from app.store.base import (
    EventRecord,
    NewEvent,
    NotFound,
    SessionRecord,
    SessionStatus,
    Unavailable,
)
from app.store.batching import GroupCommitter
from app.store.migrations import upgrade_to_head
from app.store.sql_dialects import EventWriter, dialect_for
from app.store.sql_errors import translated
from app.store.tables import session_events, sessions

_Part = TypeVar("_Part")
_Done = TypeVar("_Done")


def build_engine(url: URL, *, pool_size: int = 10) -> AsyncEngine:
    """Create the async engine with the settings each database needs."""
    return dialect_for(url).build_engine(url, pool_size=pool_size)


def _opened(part: _Part | None) -> _Part:
    """A part `open` makes; Unavailable before then."""
    if part is None:
        raise Unavailable("storage is not open")
    return part


def _session(row: RowMapping) -> SessionRecord:
    return SessionRecord.model_validate(dict(row))


# One validation call for a whole page of rows: a replay's open reads a thousand at once.
_EVENT_PAGE: TypeAdapter[list[EventRecord]] = TypeAdapter(list[EventRecord])


def _events(rows: Iterable[RowMapping]) -> list[EventRecord]:
    return _EVENT_PAGE.validate_python([dict(row) for row in rows])


class SqlStore:
    """The storage interface on one SQLAlchemy async engine."""

    def __init__(self, url: URL, *, pool_size: int = 10) -> None:
        self._dialect = dialect_for(url)
        self.name = self._dialect.name
        self._url = url
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._writer: EventWriter | None = None
        # Only an unavailable database fails a whole batch; a row it refuses fails alone.
        self._events = GroupCommitter(
            self._insert_events, self._insert_event, fails_batch=(Unavailable,)
        )

    @property
    def engine(self) -> AsyncEngine:
        """The engine, once `open` has made it."""
        return _opened(self._engine)

    async def open(self) -> None:
        """Create the engine, bring the database to the newest schema revision, start writing."""
        self._engine = self._dialect.build_engine(self._url, pool_size=self._pool_size)
        async with self._connect() as conn:
            await conn.run_sync(upgrade_to_head)
        self._writer = await self._dialect.open_writer(self._engine, pool_size=self._pool_size)

    async def close(self) -> None:
        """Finish the queued event writes and dispose of the connections."""
        await self._events.close()
        if self._writer is not None:
            await self._writer.close()
        if self._engine is not None:
            await self._engine.dispose()

    async def ping(self) -> None:
        """Run a trivial query; Unavailable when it fails."""
        async with self._connect() as conn:
            await conn.execute(text("select 1"))

    @asynccontextmanager
    async def _connect(self, session_id: str | None = None) -> AsyncIterator[AsyncConnection]:
        """A transaction whose driver failures become the store's errors."""
        with translated(session_id):
            async with self.engine.begin() as conn:
                yield conn

    async def _write(
        self, work: Callable[[Connection], _Done], session_id: str | None = None
    ) -> _Done:
        """Run `work` in one transaction on the writer; driver failures become the store's."""
        with translated(session_id):
            return await _opened(self._writer).transact(work)

    async def create_session(
        self, *, session_id: str, user_id: str, metadata: dict[str, Any] | None = None
    ) -> SessionRecord:
        """Insert an active session; AlreadyExists when the id is taken."""
        values = {
            "session_id": session_id,
            "user_id": user_id,
            "start_time": datetime.now(UTC),
            "status": "active",
            "metadata": metadata or {},
        }
        await self._write(lambda conn: sql_writes.create_session(conn, values), session_id)
        return SessionRecord.model_validate(values)

    async def get_session(self, session_id: str) -> SessionRecord:
        """Return one session; NotFound when unknown."""
        async with self._connect() as conn:
            return await self._fetch_session(conn, session_id)

    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        status: SessionStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[SessionRecord]:
        """Sessions newest first, optionally filtered by user and status."""
        query = select(*sql_writes.SESSION_COLUMNS)
        if user_id is not None:
            query = query.where(sessions.c.user_id == user_id)
        if status is not None:
            query = query.where(sessions.c.status == status)
        query = query.order_by(sessions.c.start_time.desc(), sessions.c.session_id.desc())
        async with self._connect() as conn:
            rows = await conn.execute(query.limit(limit).offset(offset))
            return [_session(row) for row in rows.mappings()]

    async def reopen_session(self, session_id: str) -> SessionRecord:
        """Mark a session active again, clearing its end."""
        return await self._update_session(
            session_id, status="active", end_time=None, duration_seconds=None
        )

    async def end_session(self, session_id: str, *, end_time: datetime) -> SessionRecord:
        """Mark a session ended with its end time and duration."""
        return await self._write(lambda conn: sql_writes.end_session(conn, session_id, end_time))

    async def add_event(self, event: NewEvent) -> EventRecord:
        """Store one event, group-committed with concurrent ones; NotFound: unknown session."""
        return await self._events.submit(event)

    async def _insert_events(self, batch: list[NewEvent]) -> list[EventRecord]:
        """Insert a batch of events in one transaction, ids in input order."""
        rows = [_event_values(event) for event in batch]
        with translated():
            ids = await _opened(self._writer).insert(rows)
        # The rows were built here from validated events: nothing to check again.
        return [EventRecord.model_construct(id=i, **row) for i, row in zip(ids, rows, strict=True)]

    async def _insert_event(self, event: NewEvent) -> EventRecord:
        try:
            [stored] = await self._insert_events([event])
        except NotFound as exc:
            # Alone in its batch, the missing session is known: name it.
            raise NotFound(f"session '{event.session_id}' not found") from exc.__cause__
        return stored

    async def list_events(
        self, session_id: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[EventRecord]:
        """A session's events in id order after `after_id`."""
        query = (
            select(session_events)
            .where(session_events.c.session_id == session_id)
            .where(session_events.c.id > after_id)
            .order_by(session_events.c.id)
            .limit(limit)
        )
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            if not rows:
                await self._fetch_session(conn, session_id)
            return _events(rows)

    async def tail_events(
        self, session_id: str, *, limit: int = 1000, before_id: int | None = None
    ) -> list[EventRecord]:
        """The latest `limit` events below `before_id`, read backwards on the index, in id order."""
        query = select(session_events).where(session_events.c.session_id == session_id)
        if before_id is not None:
            query = query.where(session_events.c.id < before_id)
        query = query.order_by(session_events.c.id.desc()).limit(limit)
        async with self._connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            if not rows:
                await self._fetch_session(conn, session_id)
            return _events(reversed(rows))

    async def export_events(
        self,
        *,
        after_id: int = 0,
        limit: int = 1000,
        since: datetime | None = None,
        until: datetime | None = None,
        user_id: str | None = None,
    ) -> list[EventRecord]:
        """Events of every session in id order after `after_id`, in the range, of one user."""
        query = select(session_events).where(session_events.c.id > after_id)
        if since is not None:
            query = query.where(session_events.c.created_at >= since)
        if until is not None:
            query = query.where(session_events.c.created_at < until)
        if user_id is not None:
            owned = select(sessions.c.session_id).where(sessions.c.user_id == user_id)
            query = query.where(session_events.c.session_id.in_(owned))
        async with self._connect() as conn:
            rows = await conn.execute(query.order_by(session_events.c.id).limit(limit))
            return _events(rows.mappings())

    async def set_summary(self, session_id: str, summary: str) -> SessionRecord:
        """Save a session's summary."""
        return await self._update_session(session_id, summary=summary)

    async def delete_session(self, session_id: str) -> None:
        """Delete a session; its events go by the cascade."""
        await self._write(lambda conn: sql_writes.delete_session(conn, session_id))

    async def _update_session(self, session_id: str, **values: Any) -> SessionRecord:
        return await self._write(lambda conn: sql_writes.update_session(conn, session_id, values))

    @staticmethod
    async def _fetch_session(conn: AsyncConnection, session_id: str) -> SessionRecord:
        row = (await conn.execute(sql_writes.session_query(session_id))).mappings().first()
        if row is None:
            raise NotFound(f"session '{session_id}' not found")
        return _session(row)


def _event_values(event: NewEvent) -> dict[str, Any]:
    return {
        "session_id": event.session_id,
        "event_type": event.event_type,
        "role": event.resolved_role,
        "content": event.content,
        "metadata": event.metadata,
        "created_at": datetime.now(UTC),
    }
