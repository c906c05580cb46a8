"""Frames and client messages as they travel between processes: pure encoding and decoding."""

from __future__ import annotations

from typing import Any

import orjson

from app.chat.events import (
    AssistantDelta,
    AssistantDone,
    Cancel,
    ClientFrame,
    ErrorFrame,
    Ping,
    Pong,
    RateLimitedFrame,
    ServerFrame,
    SessionStarted,
    ToolCall,
    ToolResult,
    UserMessage,
    UserMessageEcho,
)

_SERVER_FRAMES: dict[str, type[Any]] = {
    "session.started": SessionStarted,
    "user.message": UserMessageEcho,
    "assistant.delta": AssistantDelta,
    "tool.call": ToolCall,
    "tool.result": ToolResult,
    "assistant.done": AssistantDone,
    "error": ErrorFrame,
    "pong": Pong,
}


def decode_server_frame(text: str | bytes) -> ServerFrame:
    """The frame `encode_frame` wrote (ValueError for anything else)."""
    data = orjson.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a frame is a JSON object")
    kind = _SERVER_FRAMES.get(str(data.get("type")))
    if kind is None:
        raise ValueError(f"unknown frame type {data.get('type')!r}")
    if kind is ErrorFrame and "retry_after" in data:
        kind = RateLimitedFrame
    frame: ServerFrame = kind(**data)
    return frame


def encode_client_frame(frame: ClientFrame) -> dict[str, Any]:
    """A parsed client frame as a JSON-ready dict, to hand it to the session's process."""
    if isinstance(frame, UserMessage):
        return {
            "type": frame.type,
            "content": frame.content,
            "client_message_id": frame.client_message_id,
            "on_busy": frame.on_busy,
        }
    return {"type": frame.type}


def decode_client_frame(data: dict[str, Any]) -> ClientFrame:
    """The client frame `encode_client_frame` wrote (already checked by the sending process)."""
    kind = data.get("type")
    if kind == "user.message":
        return UserMessage(
            content=str(data["content"]),
            client_message_id=data.get("client_message_id"),
            on_busy=data.get("on_busy", "reject"),
        )
    if kind == "cancel":
        return Cancel()
    return Ping()
