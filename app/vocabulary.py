"""The project's shared words, each defined once: finish reasons, roles, connection choices."""

from __future__ import annotations

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
