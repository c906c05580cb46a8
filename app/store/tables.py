"""Table definitions shared by SQLite and PostgreSQL (sql/schema.sql mirrors them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp, also on SQLite, which stores it without a zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDoc: Any = JSON().with_variant(JSONB(), "postgresql")
EventId: Any = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", Text, primary_key=True),
    Column("user_id", Text, nullable=False, server_default="anonymous"),
    Column("start_time", UTCDateTime, nullable=False, server_default=func.now()),
    Column("end_time", UTCDateTime),
    Column("duration_seconds", Float),
    Column("status", Text, nullable=False, server_default="active"),
    Column("summary", Text),
    Column("metadata", JSONDoc, nullable=False, server_default=text("'{}'")),
    # The id's form is checked in both databases, each in its own dialect.
    CheckConstraint(
        "session_id ~ '^[A-Za-z0-9_.:-]{1,128}$'", name="sessions_session_id_check"
    ).ddl_if(dialect="postgresql"),
    CheckConstraint(
        "length(session_id) between 1 and 128 and session_id not glob '*[^A-Za-z0-9_.:-]*'",
        name="sessions_session_id_check",
    ).ddl_if(dialect="sqlite"),
    CheckConstraint("status in ('active', 'ended')", name="sessions_status_check"),
    Index("sessions_user_id_start_time_idx", "user_id", "start_time"),
    Index("sessions_start_time_idx", "start_time"),
)

session_events = Table(
    "session_events",
    metadata,
    Column("id", EventId, Identity(always=False), primary_key=True),
    Column(
        "session_id",
        Text,
        ForeignKey("sessions.session_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_type", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False, server_default=""),
    Column("metadata", JSONDoc, nullable=False, server_default=text("'{}'")),
    Column("created_at", UTCDateTime, nullable=False, server_default=func.now()),
    CheckConstraint(
        "event_type in ('user_message', 'assistant_message', 'tool_call', 'tool_result',"
        " 'error', 'session_start', 'session_end', 'summary', 'context_summary')",
        name="session_events_event_type_check",
    ),
    CheckConstraint(
        "role in ('user', 'assistant', 'tool', 'system')", name="session_events_role_check"
    ),
    Index("session_events_session_id_id_idx", "session_id", "id"),
)
