"""PostgREST's JSON rows as the store's records, and new events as rows to insert."""

from __future__ import annotations

from datetime import UTC, datetime

from app.store.base import EventRecord, NewEvent, SessionRecord
from app.store.supabase_requests import Row


def session_record(row: Row, *, turns: int) -> SessionRecord:
    """A `sessions` row with its user-message count."""
    times = {"start_time": _utc(row["start_time"]), "end_time": _utc(row.get("end_time"))}
    return SessionRecord.model_validate({**row, **times, "turns": turns})


def event_record(row: Row) -> EventRecord:
    """A `session_events` row."""
    return EventRecord.model_validate({**row, "created_at": _utc(row["created_at"])})


def event_values(events: list[NewEvent]) -> list[Row]:
    """The rows to insert for `events`, all stamped now."""
    now = datetime.now(UTC).isoformat()
    return [
        {
            "session_id": event.session_id,
            "event_type": event.event_type,
            "role": event.resolved_role,
            "content": event.content,
            "metadata": event.metadata,
            "created_at": now,
        }
        for event in events
    ]


def _utc(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)
