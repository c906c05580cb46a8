"""`POST /events`: store an event from outside the WebSocket (imports, other clients)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from app.api.deps import StoreDep, require_api_key
from app.api.models import EventCreate, EventOut
from app.store.base import EventRecord, NewEvent

router = APIRouter(prefix="/events", tags=["events"], dependencies=[Depends(require_api_key)])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EventOut,
    responses={404: {"description": "Unknown session."}},
)
async def create_event(body: EventCreate, store: StoreDep) -> EventRecord:
    """Store one event in an existing session."""
    return await store.add_event(NewEvent.model_validate(body.model_dump()))
