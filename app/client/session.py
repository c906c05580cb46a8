"""Conversations over the WebSocket: the session URL, the end of a turn, a whole conversation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect

from app.vocabulary import ANSWER_END, REFUSED_WHILE_ANSWERING

Frame = dict[str, Any]
FrameHandler = Callable[[Frame], None]


def refuses(frame: Frame) -> bool:
    """Whether this frame is an error refusing the frame the client sent (it names no answer)."""
    return frame["type"] == "error" and "message_id" not in frame


def ends_turn(frame: Frame) -> bool:
    """Whether this frame ends a turn: `assistant.done`, or an error that refuses the message."""
    if frame["type"] == ANSWER_END:
        return True
    return refuses(frame) and frame.get("code") not in REFUSED_WHILE_ANSWERING


def user_message(content: str, **fields: str) -> str:
    """The text of a `user.message` frame (`client_message_id`, `on_busy` as `fields`)."""
    return orjson.dumps({"type": "user.message", "content": content, **fields}).decode()


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
    async with asyncio.timeout(timeout):
        frame: Frame = orjson.loads(await ws.recv(decode=False))
    return frame


async def read_turn(ws: ClientConnection, timeout: float = 15.0) -> list[Frame]:
    """The frames up to and including the one that ends the turn, each within `timeout`."""
    frames = []
    while True:
        frame = await receive(ws, timeout)
        frames.append(frame)
        if ends_turn(frame):
            return frames


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
            await ws.send(user_message(text))
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
