"""Session routes: create, list, get, list events, rebuild the summary, delete."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from app.api.auth import (
    OwnStoreDep,
    PrincipalDep,
    acting_user,
    count_write,
    current_principal,
    listed_user,
)
from app.api.deps import SummarizerDep
from app.api.models import EventOut, SessionCreate, SessionOut
from app.store.base import EventRecord, SessionRecord, SessionStatus
from app.vocabulary import SESSION_ID_PATTERN

router = APIRouter(prefix="/sessions", tags=["sessions"], dependencies=[Depends(current_principal)])

SessionIdPath = Annotated[
    str, Path(pattern=SESSION_ID_PATTERN, description="1-128 of A-Z a-z 0-9 _ - . :")
]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown session."}}
_WRITE: dict[int | str, dict[str, Any]] = {429: {"description": "Over RATE_LIMIT_PER_MINUTE."}}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionOut,
    responses={409: {"description": "Id taken."}, 403: {"description": "Another user."}, **_WRITE},
    dependencies=[Depends(count_write)],
)
async def create_session(
    body: SessionCreate, store: OwnStoreDep, principal: PrincipalDep
) -> SessionRecord:
    """Create a session (an id is generated when none is given)."""
    return await store.create_session(
        session_id=body.session_id or str(uuid.uuid4()),
        user_id=acting_user(principal, body.user_id),
        metadata=body.metadata,
    )


@router.get("", response_model=list[SessionOut])
async def list_sessions(
    store: OwnStoreDep,
    principal: PrincipalDep,
    user_id: str | None = None,
    status: SessionStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[SessionRecord]:
    """Sessions, newest first."""
    return await store.list_sessions(
        user_id=listed_user(principal, user_id), status=status, limit=limit, offset=offset
    )


@router.get("/{session_id}", response_model=SessionOut, responses=_NOT_FOUND)
async def get_session(session_id: SessionIdPath, store: OwnStoreDep) -> SessionRecord:
    """One session."""
    return await store.get_session(session_id)


@router.get("/{session_id}/events", response_model=list[EventOut], responses=_NOT_FOUND)
async def list_events(
    session_id: SessionIdPath,
    store: OwnStoreDep,
    after_id: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[EventRecord]:
    """A session's events in order, after `after_id`."""
    return await store.list_events(session_id, after_id=after_id, limit=limit)


@router.post(
    "/{session_id}/summary",
    response_model=SessionOut,
    responses={**_NOT_FOUND, **_WRITE},
    dependencies=[Depends(count_write)],
)
async def rebuild_summary(
    session_id: SessionIdPath, summarizer: SummarizerDep, store: OwnStoreDep
) -> SessionRecord:
    """Build the session's summary from its stored events now, save and return it."""
    await store.get_session(session_id)
    return await summarizer.summarize(session_id)


@router.delete(
    "/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_NOT_FOUND, **_WRITE},
    dependencies=[Depends(count_write)],
)
async def delete_session(session_id: SessionIdPath, store: OwnStoreDep) -> Response:
    """Delete a session and its events."""
    await store.delete_session(session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
