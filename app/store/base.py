"""The storage interface the rest of the app uses, its records and its errors."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from app.vocabulary import SESSION_ID_PATTERN as SESSION_ID_PATTERN  # re-exported
from app.vocabulary import Role as Role  # re-exported: the store speaks this vocabulary

EventType = Literal[
    "user_message",
    "assistant_message",
    "tool_call",
    "tool_result",
    "error",
    "session_start",
    "session_end",
    "summary",
    "context_summary",
]
SessionStatus = Literal["active", "ended"]

# The role an event gets when its writer does not say.
DEFAULT_ROLES: dict[str, Role] = {
    "user_message": "user",
    "assistant_message": "assistant",
    "tool_call": "assistant",
    "tool_result": "tool",
}


class SessionRecord(BaseModel):
    """One conversation session as stored."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    user_id: str
    start_time: datetime
    end_time: datetime | None = None
    duration_seconds: float | None = None
    status: SessionStatus
    summary: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    turns: int = Field(default=0, description="Number of stored user messages.")


class NewEvent(BaseModel):
    """An event to store; `role` defaults from `event_type`."""

    model_config = ConfigDict(frozen=True)

    session_id: str
    event_type: EventType
    role: Role | None = None
    content: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def resolved_role(self) -> Role:
        """The role to store: the given one, else the event type's usual one."""
        return self.role or DEFAULT_ROLES.get(self.event_type, "system")


class EventRecord(BaseModel):
    """One stored event of a session."""

    model_config = ConfigDict(frozen=True)

    id: int
    session_id: str
    event_type: EventType
    role: Role
    content: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


class StoreError(Exception):
    """Base of every storage failure."""


class NotFound(StoreError):
    """The session does not exist."""


class AlreadyExists(StoreError):
    """A session with that id exists already."""


class Unavailable(StoreError):
    """The database cannot serve the request now (down, unreachable, overloaded)."""


class InvalidValue(StoreError):
    """The database refused a value as sent; only that one write fails."""


class Store(Protocol):
    """Storage verbs; every backend implements exactly these."""

    name: str

    async def open(self) -> None:
        """Connect and make sure the tables exist."""

    async def close(self) -> None:
        """Release connections."""

    async def ping(self) -> None:
        """Raise Unavailable when the database cannot be reached."""

    async def create_session(
        self, *, session_id: str, user_id: str, metadata: dict[str, Any] | None = None
    ) -> SessionRecord:
        """Create an active session; AlreadyExists when the id is taken."""

    async def get_session(self, session_id: str) -> SessionRecord:
        """Return one session; NotFound when unknown."""

    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        status: SessionStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[SessionRecord]:
        """Sessions newest first, optionally filtered."""

    async def reopen_session(self, session_id: str) -> SessionRecord:
        """Mark a session active again (a resumed conversation)."""

    async def end_session(self, session_id: str, *, end_time: datetime) -> SessionRecord:
        """Mark a session ended, setting end time and duration."""

    async def add_event(self, event: NewEvent) -> EventRecord:
        """Store one event; NotFound when its session is unknown."""

    async def list_events(
        self, session_id: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[EventRecord]:
        """A session's events in order; NotFound when the session is unknown."""

    async def tail_events(
        self, session_id: str, *, limit: int = 1000, before_id: int | None = None
    ) -> list[EventRecord]:
        """The latest `limit` events (below `before_id`, when given) in id order; NotFound."""

    async def export_events(
        self,
        *,
        after_id: int = 0,
        limit: int = 1000,
        since: datetime | None = None,
        until: datetime | None = None,
        user_id: str | None = None,
    ) -> list[EventRecord]:
        """One page of every session's events in id order after `after_id` (a keyset cursor).

        Only those created at or after `since` and before `until`, and of `user_id`'s
        sessions when given.
        """

    async def set_summary(self, session_id: str, summary: str) -> SessionRecord:
        """Save a session's summary."""

    async def delete_session(self, session_id: str) -> None:
        """Delete a session and its events; NotFound when unknown."""
