"""The session writes of the SQL store, as functions of one synchronous connection.

Each runs inside one transaction on the dialect's writer: on SQLite the thread that owns
the database's only writing connection (so writes queue in order instead of racing for
SQLite's one lock), on PostgreSQL a pooled connection (`AsyncConnection.run_sync`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select, update

from app.store.base import NotFound, SessionRecord
from app.store.tables import session_events, sessions

_turns = (
    select(func.count())
    .where(session_events.c.session_id == sessions.c.session_id)
    .where(session_events.c.event_type == "user_message")
    .scalar_subquery()
    .label("turns")
)
SESSION_COLUMNS = (*sessions.c, _turns)


def session_query(session_id: str) -> Select[Any]:
    """The statement that reads one session with its turn count."""
    return select(*SESSION_COLUMNS).where(sessions.c.session_id == session_id)


def read_session(conn: Connection, session_id: str) -> SessionRecord:
    """One session as stored; NotFound when unknown."""
    row = conn.execute(session_query(session_id)).mappings().first()
    if row is None:
        raise NotFound(f"session '{session_id}' not found")
    return SessionRecord.model_validate(dict(row))


def create_session(conn: Connection, values: dict[str, Any]) -> None:
    """Insert a session row."""
    conn.execute(insert(sessions).values(**values))


def end_session(conn: Connection, session_id: str, end_time: datetime) -> SessionRecord:
    """Mark a session ended with its end time and duration; the session as it now is."""
    found = read_session(conn, session_id)
    duration = max((end_time - found.start_time).total_seconds(), 0.0)
    conn.execute(
        update(sessions)
        .where(sessions.c.session_id == session_id)
        .values(status="ended", end_time=end_time, duration_seconds=duration)
    )
    # What was read plus what was written: no second read inside the same transaction.
    return found.model_copy(
        update={"status": "ended", "end_time": end_time, "duration_seconds": duration}
    )


def update_session(conn: Connection, session_id: str, values: dict[str, Any]) -> SessionRecord:
    """Set some of a session's columns; the session as it now is (NotFound when unknown)."""
    result = conn.execute(
        update(sessions).where(sessions.c.session_id == session_id).values(**values)
    )
    if result.rowcount == 0:
        raise NotFound(f"session '{session_id}' not found")
    return read_session(conn, session_id)


def delete_session(conn: Connection, session_id: str) -> None:
    """Delete a session (its events go by the cascade); NotFound when unknown."""
    result = conn.execute(delete(sessions).where(sessions.c.session_id == session_id))
    if result.rowcount == 0:
        raise NotFound(f"session '{session_id}' not found")
