"""The project's shared words, each defined once: finish reasons, roles, connection choices."""

from __future__ import annotations

import re
from typing import Literal, get_args

# Why an answer ended, as `assistant.done.finish_reason` and stored `metadata.finish_reason` say.
FinishReason = Literal["stop", "cancelled", "error", "length", "interrupted"]
FINISH_REASONS: tuple[FinishReason, ...] = get_args(FinishReason)

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
