"""Request and response models of the REST API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from app.store.base import EventRecord, EventType, Role, SessionRecord
from app.validation import Metadata, StorableText
from app.vocabulary import SESSION_ID_PATTERN


class SessionCreate(BaseModel):
    """Body of `POST /sessions`; the id is generated when left out."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"session_id": "demo-1", "user_id": "ann", "metadata": {"lang": "en"}}]
        },
    )

    session_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    user_id: StorableText | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="The owner: `anonymous` when left out, or the signed-in user.",
    )
    metadata: Metadata = Field(default_factory=dict)


class EventCreate(BaseModel):
    """Body of `POST /events`; `role` defaults from `event_type`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "session_id": "demo-1",
                    "event_type": "user_message",
                    "content": "What time is it?",
                    "metadata": {"source": "import"},
                }
            ]
        },
    )

    session_id: str = Field(pattern=SESSION_ID_PATTERN)
    event_type: EventType
    role: Role | None = None
    content: StorableText = Field(default="", max_length=1_000_000)
    metadata: Metadata = Field(default_factory=dict)


class SessionOut(SessionRecord):
    """A session as the API returns it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "session_id": "demo-1",
                    "user_id": "ann",
                    "start_time": "2026-01-05T09:30:00Z",
                    "end_time": "2026-01-05T09:31:12Z",
                    "duration_seconds": 72.0,
                    "status": "ended",
                    "summary": "ann asked for the time; get_current_time answered.",
                    "metadata": {"lang": "en"},
                    "turns": 1,
                }
            ]
        }
    )


class EventOut(EventRecord):
    """An event as the API returns it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "session_id": "demo-1",
                    "event_type": "user_message",
                    "role": "user",
                    "content": "What time is it?",
                    "metadata": {"seq": 1, "message_id": "m-1"},
                    "created_at": "2026-01-05T09:30:01Z",
                }
            ]
        }
    )


class HealthOut(BaseModel):
    """What `GET /health` reports."""

    status: str
    storage: str
    llm: str
    model: str | None = None
    bus: str = Field(default="memory", description="`memory` (one process) or `redis` (several).")
    detail: str | None = None
