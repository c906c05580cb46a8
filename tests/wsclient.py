"""Helpers for talking to the server over a real WebSocket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


def ws_url(base_url: str, session_id: str, **query: str) -> str:
    """The WebSocket URL of a session on a server started at `base_url`."""
    params = "&".join(f"{k}={v}" for k, v in query.items())
    url = base_url.replace("http://", "ws://") + f"/ws/session/{session_id}"
    return f"{url}?{params}" if params else url


async def open_session(
    base_url: str, session_id: str, **query: str
) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect and return the socket and its `session.started` frame."""
    ws = await connect(ws_url(base_url, session_id, **query))
    started = await receive(ws)
    assert started["type"] == "session.started", started
    return ws, started


async def receive(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    """The next frame, decoded."""
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


async def send(ws: ClientConnection, frame: dict[str, Any] | str) -> None:
    """Send a JSON frame, or a plain string as it is."""
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))


async def until_done(ws: ClientConnection, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Frames up to and including `assistant.done`."""
    frames = []
    while True:
        frame = await receive(ws, timeout)
        frames.append(frame)
        if frame["type"] == "assistant.done":
            return frames


async def ask(ws: ClientConnection, text: str) -> list[dict[str, Any]]:
    """Send one user message and collect its answer's frames."""
    await send(ws, {"type": "user.message", "content": text})
    return await until_done(ws)


def of_type(frames: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The frames of one type."""
    return [f for f in frames if f["type"] == kind]
