"""Exports: a session's transcript, and every event of a time range, streamed page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from app.api import formats
from app.api.auth import OwnStoreDep, PrincipalDep, current_principal, listed_user
from app.api.sessions import SessionIdPath
from app.store.base import EventRecord

router = APIRouter(tags=["exports"], dependencies=[Depends(current_principal)])

PAGE = 1000
Page = Callable[[int], Awaitable[list[EventRecord]]]


def _utc(moment: datetime | None) -> datetime | None:
    """A bound as given, or read as UTC when it carries no offset."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


async def _pages(first: list[EventRecord], read: Page) -> AsyncIterator[list[EventRecord]]:
    """The pages after `first`, each read after the last id of the one before (keyset)."""
    page = first
    while page:
        yield page
        if len(page) < PAGE:
            return
        page = await read(page[-1].id)


def _stream(
    head: str, pages: AsyncIterator[list[EventRecord]], render: Callable[[list[EventRecord]], str]
) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        if head:
            yield head.encode()
        async for page in pages:
            yield render(page).encode()

    return chunks()


def _download(body: AsyncIterator[bytes], kind: str, name: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type=formats.MEDIA_TYPES[kind],
        headers={"Content-Disposition": f'attachment; filename="{name}.{kind}"'},
    )


_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown session."}}


@router.get("/sessions/{session_id}/transcript", responses=_NOT_FOUND)
async def session_transcript(
    session_id: SessionIdPath,
    store: OwnStoreDep,
    format: Annotated[Literal["md", "jsonl"], Query(description="md or jsonl")] = "md",
) -> StreamingResponse:
    """The session as a Markdown transcript (tool calls included) or one event per line."""
    session = await store.get_session(session_id)

    async def read(after_id: int) -> list[EventRecord]:
        return await store.list_events(session_id, after_id=after_id, limit=PAGE)

    pages = _pages(await read(0), read)
    if format == "md":
        body = _stream(formats.markdown_header(session), pages, formats.markdown_events)
    else:
        body = _stream("", pages, formats.json_lines)
    return _download(body, format, f"transcript-{session_id}")


@router.get(
    "/events/export",
    responses={403: {"description": "A signed-in user named someone else's user_id."}},
)
async def export_events(
    store: OwnStoreDep,
    principal: PrincipalDep,
    format: Annotated[Literal["jsonl", "csv"], Query(description="jsonl or csv")] = "jsonl",
    since: Annotated[datetime | None, Query(description="created at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="created before (ISO 8601)")] = None,
    user_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> StreamingResponse:
    """Every event in the range, in id order, streamed without holding it all (columns of
    `session_events`); a signed-in user gets only their own sessions' events."""
    owner = listed_user(principal, user_id)
    start, end = _utc(since), _utc(until)

    async def read(after_id: int) -> list[EventRecord]:
        return await store.export_events(
            after_id=after_id, limit=PAGE, since=start, until=end, user_id=owner
        )

    # The first page is read before the answer starts, so a storage failure is still a 503.
    pages = _pages(await read(0), read)
    if format == "csv":
        body = _stream(formats.csv_header(), pages, formats.csv_rows)
    else:
        body = _stream("", pages, formats.json_lines)
    return _download(body, format, "events")
