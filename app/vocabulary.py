"""The project's shared words, each defined once: finish reasons, event types, roles, choices.

Each is a Literal (for the type checker) and the tuple of its values (for code and SQL), derived
with `typing.get_args` so the two cannot drift apart.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

# Why an answer ended, as `assistant.done.finish_reason` and stored `metadata.finish_reason` say.
FinishReason = Literal["stop", "cancelled", "error", "length", "interrupted"]
FINISH_REASONS: tuple[FinishReason, ...] = get_args(FinishReason)

# How a model round ended, as a provider reports it: like an answer, or asking for tools first.
ModelFinishReason = Literal["stop", "tool_calls", "length", "cancelled", "error"]
MODEL_FINISH_REASONS: tuple[ModelFinishReason, ...] = get_args(ModelFinishReason)

# What a server frame is, in its `type`.
ServerFrameType = Literal[
    "session.started",
    "user.message",
    "assistant.delta",
    "tool.call",
    "tool.result",
    "assistant.done",
    "context.compacted",
    "error",
    "pong",
]
SERVER_FRAME_TYPES: tuple[ServerFrameType, ...] = get_args(ServerFrameType)

# The end of a turn, for a client that sends a message and reads until it is answered: the
# answer's last frame, or an `error` without a `message_id` (it refuses the frame just sent). An
# error with a `message_id` is about an answer, whose `assistant.done` follows; these codes refuse
# a message while another answer runs, and that answer goes on to its `assistant.done`.
ANSWER_END: Final = "assistant.done"
REFUSED_WHILE_ANSWERING: tuple[str, ...] = ("busy",)

# What a stored event records, in `session_events.event_type`.
EventType = Literal[
    "user_message",
    "assistant_message",
    "tool_call",
    "tool_result",
    "error",
    "session_start",
    "session_end",
    "summary",
    "context_summary",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)

# A session's state, in `sessions.status`.
SessionStatus = Literal["active", "ended"]
SESSION_STATUSES: tuple[SessionStatus, ...] = get_args(SessionStatus)

# Who an event speaks for, in `session_events.role`.
Role = Literal["user", "assistant", "tool", "system"]
ROLES: tuple[Role, ...] = get_args(Role)

# `?mode=`: how a connection joins its session.
ConnectionMode = Literal["write", "observe", "takeover"]
CONNECTION_MODES: tuple[ConnectionMode, ...] = get_args(ConnectionMode)

# `?on_disconnect=`: what happens to a running answer when the writing connection drops.
OnDisconnect = Literal["cancel", "continue"]
ON_DISCONNECT: tuple[OnDisconnect, ...] = get_args(OnDisconnect)

# `user.message.on_busy`: what a message sent during an answer does.
OnBusy = Literal["reject", "enqueue", "interrupt"]
ON_BUSY: tuple[OnBusy, ...] = get_args(OnBusy)

# A session id, wherever one arrives (REST path and body, WebSocket path). Anchored for JSON
# Schema; Python code must test it with `is_session_id` (a full match), because `re.match` with `$`
# also accepts a trailing newline.
SESSION_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
_SESSION_ID = re.compile(SESSION_ID_PATTERN)


def is_session_id(value: str) -> bool:
    """Whether the whole of `value` is a valid session id (no trailing newline slips through)."""
    return _SESSION_ID.fullmatch(value) is not None
