"""A small synchronous client of the REST API (the notebooks' reads and waits)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

import httpx

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
