"""`POST /events`: store an event from outside the WebSocket (imports, other clients)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from app.api.auth import OwnStoreDep, count_write, current_principal
from app.api.models import EventCreate, EventOut
from app.api.openapi import answers
from app.store.base import EventRecord, NewEvent

router = APIRouter(
    prefix="/events",
    tags=["events"],
    dependencies=[Depends(current_principal)],
    responses=answers(503),
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EventOut,
    responses=answers(404, 413, 429),
    dependencies=[Depends(count_write)],
)
async def create_event(body: EventCreate, store: OwnStoreDep) -> EventRecord:
    """Store one event in an existing session."""
    return await store.add_event(NewEvent.model_validate(body.model_dump()))
