"""Request and response models of the REST API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.store.base import EventRecord, EventType, Role, SessionRecord
from app.vocabulary import SESSION_ID_PATTERN


class SessionCreate(BaseModel):
    """Body of `POST /sessions`; the id is generated when left out."""

    model_config = ConfigDict(extra="forbid")

    session_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    user_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="The owner: `anonymous` when left out, or the signed-in user.",
    )
    metadata: dict[str, Any] = Field(default_factory=dict)


class EventCreate(BaseModel):
    """Body of `POST /events`; `role` defaults from `event_type`."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(pattern=SESSION_ID_PATTERN)
    event_type: EventType
    role: Role | None = None
    content: str = Field(default="", max_length=1_000_000)
    metadata: dict[str, Any] = Field(default_factory=dict)


class SessionOut(SessionRecord):
    """A session as the API returns it."""


class EventOut(EventRecord):
    """An event as the API returns it."""


class HealthOut(BaseModel):
    """What `GET /health` reports."""

    status: str
    storage: str
    llm: str
    model: str | None = None
    detail: str | None = None
