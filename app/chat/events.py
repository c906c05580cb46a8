"""The WebSocket frames of the contract, and the pure parser of client frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson


@dataclass(frozen=True, slots=True, kw_only=True)
class UserMessage:
    """`user.message`: one user turn."""

    type: Literal["user.message"] = "user.message"
    content: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel:
    """`cancel`: stop the answer being generated."""

    type: Literal["cancel"] = "cancel"


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    """`ping`: answered by `pong`."""

    type: Literal["ping"] = "ping"


ClientFrame = UserMessage | Cancel | Ping


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStarted:
    """`session.started`: sent once after the handshake."""

    type: Literal["session.started"] = "session.started"
    session_id: str
    user_id: str
    resumed: bool
    history: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AssistantDelta:
    """`assistant.delta`: the next piece of an answer."""

    type: Literal["assistant.delta"] = "assistant.delta"
    message_id: str
    delta: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """`tool.call`: the model called a tool."""

    type: Literal["tool.call"] = "tool.call"
    message_id: str
    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult:
    """`tool.result`: what a tool returned."""

    type: Literal["tool.result"] = "tool.result"
    message_id: str
    call_id: str
    name: str
    result: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class AssistantDone:
    """`assistant.done`: the whole answer and why it ended."""

    type: Literal["assistant.done"] = "assistant.done"
    message_id: str
    content: str
    finish_reason: Literal["stop", "cancelled", "error", "length"]
    usage: dict[str, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorFrame:
    """`error`: a stable `code` and a `message` for people; never closes the socket."""

    type: Literal["error"] = "error"
    code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitedFrame(ErrorFrame):
    """`error` `rate_limited`: over RATE_LIMIT_PER_MINUTE; `retry_after` seconds to wait."""

    code: str = "rate_limited"
    retry_after: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong:
    """`pong`: the answer to `ping`."""

    type: Literal["pong"] = "pong"


ServerFrame = (
    SessionStarted | AssistantDelta | ToolCall | ToolResult | AssistantDone | ErrorFrame | Pong
)
ConversationEvent = AssistantDelta | ToolCall | ToolResult | AssistantDone | ErrorFrame


def encode_frame(frame: ServerFrame) -> str:
    """Serialise a server frame to its JSON text."""
    return orjson.dumps(frame).decode()


def parse_client_frame(text: str, *, max_chars: int) -> ClientFrame | ErrorFrame:
    """Turn one client text frame into a typed frame, or the error frame to answer with."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        # Plain-text clients: the whole frame is the message.
        return _user_message(text, max_chars=max_chars)
    kind = data["type"]
    if kind == "user.message":
        content = data.get("content")
        if not isinstance(content, str):
            return ErrorFrame(code="invalid_message", message="'content' must be a string")
        return _user_message(content, max_chars=max_chars)
    if kind == "cancel":
        return Cancel()
    if kind == "ping":
        return Ping()
    return ErrorFrame(code="invalid_message", message=f"unknown message type '{kind[:64]}'")


def _user_message(content: str, *, max_chars: int) -> UserMessage | ErrorFrame:
    if not content.strip():
        return ErrorFrame(code="invalid_message", message="the message is empty")
    if len(content) > max_chars:
        return ErrorFrame(
            code="message_too_large",
            message=f"the message has {len(content)} characters; at most {max_chars} are accepted",
        )
    return UserMessage(content=content)
