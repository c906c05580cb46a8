"""The WebSocket frames of the contract, and the pure parser of client frames."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

import orjson

from app.vocabulary import ON_BUSY, FinishReason, OnBusy

_CLIENT_MESSAGE_ID_MAX = 128


@dataclass(frozen=True, slots=True, kw_only=True)
class UserMessage:
    """`user.message` from the client: one user turn."""

    type: Literal["user.message"] = "user.message"
    content: str
    client_message_id: str | None = None
    on_busy: OnBusy = "reject"


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
    last_seq: int = 0
    mode: Literal["write", "observe"] = "write"


@dataclass(frozen=True, slots=True, kw_only=True)
class UserMessageEcho:
    """`user.message` from the server: a user message as accepted, sent to every connection."""

    type: Literal["user.message"] = "user.message"
    message_id: str
    content: str
    client_message_id: str | None = None
    queued: bool = False
    duplicate: bool = False
    seq: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AssistantDelta:
    """`assistant.delta`: the next piece of an answer."""

    type: Literal["assistant.delta"] = "assistant.delta"
    message_id: str
    delta: str
    seq: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """`tool.call`: the model called a tool."""

    type: Literal["tool.call"] = "tool.call"
    message_id: str
    call_id: str
    name: str
    arguments: dict[str, Any]
    seq: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult:
    """`tool.result`: what a tool returned."""

    type: Literal["tool.result"] = "tool.result"
    message_id: str
    call_id: str
    name: str
    result: Any
    seq: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AssistantDone:
    """`assistant.done`: the whole answer and why it ended."""

    type: Literal["assistant.done"] = "assistant.done"
    message_id: str
    content: str
    finish_reason: FinishReason
    usage: dict[str, int] | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextCompacted:
    """`context.compacted`: the oldest turns were folded into `summary` for the model."""

    type: Literal["context.compacted"] = "context.compacted"
    covers_through_id: int
    summary: str
    tokens_before: int
    tokens_after: int
    seq: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorFrame:
    """`error`: a stable `code` and a `message` for people; never closes the socket.

    With a `message_id` it is about an answer: a conversation frame, numbered and replayed.
    """

    type: Literal["error"] = "error"
    code: str
    message: str
    message_id: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitedFrame(ErrorFrame):
    """`error` `rate_limited`: over RATE_LIMIT_PER_MINUTE; `retry_after` seconds to wait."""

    code: str = "rate_limited"
    retry_after: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong:
    """`pong`: the answer to `ping`."""

    type: Literal["pong"] = "pong"


# The frames that belong to the session's conversation: numbered by the log, replayable.
ConversationFrame = (
    UserMessageEcho
    | AssistantDelta
    | ToolCall
    | ToolResult
    | AssistantDone
    | ContextCompacted
    | ErrorFrame
)
ServerFrame = SessionStarted | ConversationFrame | Pong

# Optional fields left out of the wire text when unset (frames without a seq carry none).
_OMITTED_WHEN_NONE = frozenset({"seq", "message_id", "client_message_id"})


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(kind: type) -> tuple[str, ...]:
    # Not `__slots__`: a subclass's (RateLimitedFrame) lists only the fields it adds.
    names = _FIELD_NAMES.get(kind)
    if names is None:
        names = _FIELD_NAMES[kind] = tuple(field.name for field in fields(kind))
    return names


def encode_frame(frame: ServerFrame) -> str:
    """Serialise a server frame to its JSON text, `type` first."""
    wire = {
        name: value
        for name in _field_names(type(frame))
        if (value := getattr(frame, name)) is not None or name not in _OMITTED_WHEN_NONE
    }
    return orjson.dumps(wire).decode()


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
        return _json_user_message(data, max_chars=max_chars)
    if kind == "cancel":
        return Cancel()
    if kind == "ping":
        return Ping()
    return ErrorFrame(code="invalid_message", message=f"unknown message type '{kind[:64]}'")


def _json_user_message(data: dict[str, Any], *, max_chars: int) -> UserMessage | ErrorFrame:
    content = data.get("content")
    if not isinstance(content, str):
        return ErrorFrame(code="invalid_message", message="'content' must be a string")
    client_id = data.get("client_message_id")
    if client_id is not None and (
        not isinstance(client_id, str) or not 1 <= len(client_id) <= _CLIENT_MESSAGE_ID_MAX
    ):
        return ErrorFrame(
            code="invalid_message", message="'client_message_id' must be 1 to 128 characters"
        )
    on_busy = data.get("on_busy", "reject")
    if on_busy not in ON_BUSY:
        return ErrorFrame(
            code="invalid_message", message="'on_busy' must be reject, enqueue or interrupt"
        )
    return _user_message(content, max_chars=max_chars, client_id=client_id, on_busy=on_busy)


def _user_message(
    content: str, *, max_chars: int, client_id: str | None = None, on_busy: OnBusy = "reject"
) -> UserMessage | ErrorFrame:
    if not content.strip():
        return ErrorFrame(code="invalid_message", message="the message is empty")
    if len(content) > max_chars:
        return ErrorFrame(
            code="message_too_large",
            message=f"the message has {len(content)} characters; at most {max_chars} are accepted",
        )
    return UserMessage(content=content, client_message_id=client_id, on_busy=on_busy)
