"""Conversations over the WebSocket: the session URL, the end of a turn, a whole conversation."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect

Frame = dict[str, Any]
FrameHandler = Callable[[Frame], None]

# Errors after which the answer goes on (its `assistant.done` follows): a model error is part of
# the answer, and `busy` refuses only the message that came while the answer streams.
ERRORS_BEFORE_DONE = ("busy", "llm_error")


def ends_turn(frame: Frame) -> bool:
    """Whether this frame ends a turn: `assistant.done`, or an error that refuses the message."""
    if frame["type"] == "error":
        return frame.get("code") not in ERRORS_BEFORE_DONE
    return bool(frame["type"] == "assistant.done")


def ws_url(
    base_url: str, session_id: str, *, api_key: str | None = None, user_id: str | None = None
) -> str:
    """The WebSocket URL of a session: `ws://` for `http://`, `wss://` for `https://`."""
    parts = urlsplit(base_url.rstrip("/"))
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = {k: v for k, v in (("user_id", user_id), ("token", api_key)) if v}
    path = f"{parts.path}/ws/session/{session_id}"
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))


async def receive(ws: ClientConnection, timeout: float = 10.0) -> Frame:
    """The next frame, decoded."""
    frame: Frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


@dataclass
class ChatLog:
    """The frames a conversation received, and its session id."""

    session_id: str
    frames: list[Frame] = field(default_factory=list)

    @property
    def answers(self) -> list[str]:
        """The whole text of each answer, in order."""
        return [f["content"] for f in self.frames if f["type"] == "assistant.done"]

    @property
    def tool_calls(self) -> list[str]:
        """The names of the tools called, in order."""
        return [f["name"] for f in self.frames if f["type"] == "tool.call"]


async def converse(
    base_url: str,
    messages: Sequence[str],
    *,
    session_id: str | None = None,
    user_id: str = "notebook",
    api_key: str | None = None,
    on_frame: FrameHandler | None = None,
    timeout: float = 60.0,
) -> ChatLog:
    """Send each message in turn, waiting for the end of its turn; then close the socket."""
    held = ChatLog(session_id or f"conv-{uuid.uuid4().hex[:12]}")
    url = ws_url(base_url, held.session_id, api_key=api_key, user_id=user_id)
    async with connect(url, open_timeout=timeout) as ws:
        await _collect(ws, held, on_frame, _is_started, timeout=timeout)
        for text in messages:
            if on_frame is not None:
                on_frame({"type": "user.message", "content": text})
            await ws.send(json.dumps({"type": "user.message", "content": text}))
            await _collect(ws, held, on_frame, ends_turn, timeout=timeout)
    return held


def _is_started(frame: Frame) -> bool:
    return bool(frame["type"] == "session.started")


async def _collect(
    ws: ClientConnection,
    held: ChatLog,
    on_frame: FrameHandler | None,
    last: Callable[[Frame], bool],
    *,
    timeout: float,
) -> None:
    while True:
        frame = await receive(ws, timeout)
        held.frames.append(frame)
        if on_frame is not None:
            on_frame(frame)
        if last(frame):
            return
