"""Test helpers on top of app.client: open a session, wait for frames, the REST reads tests make."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect

from app.client import read_turn, receive, user_message, ws_url

# Re-exported: the tests read frames and whole turns with these.
__all__ = ["read_turn", "receive"]


async def open_session(
    base_url: str,
    session_id: str,
    *,
    user_id: str | None = None,
    token: str | None = None,
    **query: str | int,
) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect, with extra query parameters (`after_seq`…); the socket and `session.started`."""
    url = ws_url(base_url, session_id, api_key=token, user_id=user_id)
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query)
    ws = await connect(url)
    started = await receive(ws)
    assert started["type"] == "session.started", started
    return ws, started


async def send(ws: ClientConnection, frame: dict[str, Any] | str) -> None:
    """Send a JSON frame, or a plain string as it is."""
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))


async def next_of(ws: ClientConnection, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next frame of one type, skipping others (the `user.message` echo, for one)."""
    while True:
        frame = await receive(ws, timeout)
        if frame["type"] == kind:
            return frame


async def ask(ws: ClientConnection, text: str) -> list[dict[str, Any]]:
    """Send one user message and collect its answer's frames."""
    await ws.send(user_message(text))
    return await read_turn(ws)


def of_type(frames: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The frames of one type."""
    return [f for f in frames if f["type"] == kind]


async def stored_events(
    base_url: str, session_id: str, *, key: str | None = None
) -> list[dict[str, Any]]:
    """A session's stored events, through the REST API."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:
        answer = await http.get(f"/sessions/{session_id}/events")
        answer.raise_for_status()
        events: list[dict[str, Any]] = answer.json()
        return events


async def wait_for_summary(
    base_url: str, session_id: str, timeout: float = 10.0, *, key: str | None = None
) -> dict[str, Any]:
    """Poll the REST API until the session is ended and summarised; return it."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:
        while True:
            session: dict[str, Any] = (await http.get(f"/sessions/{session_id}")).json()
            if session["status"] == "ended" and session["summary"]:
                return session
            assert time.monotonic() < deadline, session
            await asyncio.sleep(0.05)
