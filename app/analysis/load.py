"""Load sessions and events through the REST API or straight from the database."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

import httpx
from sqlalchemy import select

from app.analysis.blocking import run_blocking
from app.analysis.frames import Dataset, build_dataset
from app.config import to_async_url
from app.store.sql import build_engine
from app.store.tables import session_events, sessions

SESSIONS_PAGE = 500
EVENTS_PAGE = 1000


class BackendClient:
    """A small synchronous client of the REST API, sending the API key as a Bearer token."""

    def __init__(self, base_url: str, *, api_key: str | None = None, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def health(self) -> dict[str, Any]:
        """`GET /health`, whatever its status."""
        body: dict[str, Any] = self._http.get("/health").json()
        return body

    def session(self, session_id: str) -> dict[str, Any]:
        """One session."""
        found: dict[str, Any] = self._get(f"/sessions/{session_id}")
        return found

    def sessions(self) -> list[dict[str, Any]]:
        """Every session, newest first, paging through `GET /sessions`."""
        found: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = self._get("/sessions", limit=SESSIONS_PAGE, offset=offset)
            # A session created while paging shifts the pages; the id keeps each once.
            found.update((row["session_id"], row) for row in page)
            if len(page) < SESSIONS_PAGE:
                return list(found.values())
            offset += SESSIONS_PAGE

    def events(self, session_id: str) -> list[dict[str, Any]]:
        """All of a session's events in order, paging by `after_id`."""
        events: list[dict[str, Any]] = []
        while True:
            after = events[-1]["id"] if events else 0
            page = self._get(f"/sessions/{session_id}/events", after_id=after, limit=EVENTS_PAGE)
            events.extend(page)
            if len(page) < EVENTS_PAGE:
                return events

    def export_events(self, **params: str | None) -> Iterator[dict[str, Any]]:
        """Every event `GET /events/export` streams (`since`, `until`, `user_id`), one at a time."""
        query = {"format": "jsonl", **{k: v for k, v in params.items() if v is not None}}
        with self._http.stream("GET", "/events/export", params=query) as answer:
            answer.raise_for_status()
            for line in answer.iter_lines():
                if line:
                    yield json.loads(line)

    def wait_for_summary(self, session_id: str, *, timeout: float = 30.0) -> dict[str, Any]:
        """Poll a session until it is ended and its summary written; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.session(session_id)
            if found["status"] == "ended" and found["summary"]:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"session {session_id} has no summary after {timeout} s")
            time.sleep(0.1)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _get(self, path: str, **params: Any) -> Any:
        answer = self._http.get(path, params=params)
        answer.raise_for_status()
        return answer.json()


def load_from_api(base_url: str, *, api_key: str | None = None) -> Dataset:
    """Every session and event of a running app, read through its REST API."""
    with BackendClient(base_url, api_key=api_key) as client:
        found = client.sessions()
        events = [event for row in found for event in client.events(row["session_id"])]
    return build_dataset(found, events)


def load_from_export(
    base_url: str,
    *,
    api_key: str | None = None,
    since: str | None = None,
    until: str | None = None,
    user_id: str | None = None,
) -> Dataset:
    """The events of a time range (and of one user) as `/events/export` streams them, and their
    sessions: one request for all the events instead of one per session."""
    with BackendClient(base_url, api_key=api_key) as client:
        events = list(client.export_events(since=since, until=until, user_id=user_id))
        wanted = {event["session_id"] for event in events}
        found = [row for row in client.sessions() if row["session_id"] in wanted]
    return build_dataset(found, events)


def load_from_database(database_url: str) -> Dataset:
    """Every session and event, read straight from the database at `database_url`."""
    return run_blocking(_read_database(database_url))


async def _read_database(database_url: str) -> Dataset:
    engine = build_engine(to_async_url(database_url), pool_size=1)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(select(sessions))
            session_rows = [dict(row) for row in found.mappings()]
            found = await conn.execute(select(session_events).order_by(session_events.c.id))
            event_rows = [dict(row) for row in found.mappings()]
    finally:
        await engine.dispose()
    return build_dataset(session_rows, event_rows)
