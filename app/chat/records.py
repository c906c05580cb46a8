"""Frames as stored events and back: what the log stores, what a replay reads, model history."""

from __future__ import annotations

from typing import Any

import orjson

from app.chat.events import (
    AssistantDone,
    ConversationFrame,
    ErrorFrame,
    ToolCall,
    ToolResult,
    UserMessageEcho,
)
from app.llm.base import Message
from app.store.base import EventRecord, NewEvent
from app.vocabulary import FINISH_REASONS, FinishReason


def to_json(value: Any) -> str:
    """Compact JSON text of any value a tool takes or returns."""
    return orjson.dumps(value, default=str).decode()


def frame_record(
    session_id: str, frame: ConversationFrame, extra: dict[str, Any] | None = None
) -> NewEvent | None:
    """The event that stores `frame` (with its seq in metadata); None for deltas."""
    base = {"seq": frame.seq, **(extra or {})}
    if isinstance(frame, UserMessageEcho):
        metadata = {**base, "message_id": frame.message_id}
        if frame.client_message_id is not None:
            metadata["client_message_id"] = frame.client_message_id
        return _event(session_id, "user_message", frame.content, metadata)
    if isinstance(frame, ToolCall | ToolResult):
        common = {
            **base,
            "call_id": frame.call_id,
            "name": frame.name,
            "message_id": frame.message_id,
        }
        if isinstance(frame, ToolCall):
            content = to_json(frame.arguments)
            return _event(
                session_id, "tool_call", content, {**common, "arguments": frame.arguments}
            )
        return _event(
            session_id, "tool_result", to_json(frame.result), {**common, "result": frame.result}
        )
    if isinstance(frame, AssistantDone):
        metadata = {
            **base,
            "message_id": frame.message_id,
            "finish_reason": frame.finish_reason,
            "usage": frame.usage,
        }
        return _event(session_id, "assistant_message", frame.content, metadata)
    if isinstance(frame, ErrorFrame) and frame.message_id is not None:
        metadata = {**base, "code": frame.code, "message_id": frame.message_id}
        return _event(session_id, "error", frame.message, metadata)
    return None


def _event(session_id: str, kind: Any, content: str, metadata: dict[str, Any]) -> NewEvent:
    return NewEvent(session_id=session_id, event_type=kind, content=content, metadata=metadata)


def event_frame(event: EventRecord) -> ConversationFrame | None:
    """The frame a stored event was sent as (for replay); None for events never sent."""
    meta = event.metadata
    seq = meta.get("seq")
    message_id = meta.get("message_id")
    if not isinstance(seq, int) or not isinstance(message_id, str):
        return None
    if event.event_type == "user_message":
        client_id = meta.get("client_message_id")
        return UserMessageEcho(
            message_id=message_id, content=event.content, client_message_id=client_id, seq=seq
        )
    if event.event_type == "tool_call":
        args = meta.get("arguments") or {}
        return ToolCall(
            message_id=message_id,
            call_id=meta["call_id"],
            name=meta["name"],
            arguments=args,
            seq=seq,
        )
    if event.event_type == "tool_result":
        return ToolResult(
            message_id=message_id,
            call_id=meta["call_id"],
            name=meta["name"],
            result=meta.get("result"),
            seq=seq,
        )
    if event.event_type == "assistant_message":
        return AssistantDone(
            message_id=message_id,
            content=event.content,
            finish_reason=finish_reason(meta.get("finish_reason")),
            usage=meta.get("usage"),
            seq=seq,
        )
    if event.event_type == "error":
        code = str(meta.get("code", "error"))
        return ErrorFrame(code=code, message=event.content, message_id=message_id, seq=seq)
    return None


def finish_reason(value: object) -> FinishReason:
    """A stored finish reason as the vocabulary knows it (older rows may lack one)."""
    for known in FINISH_REASONS:
        if value == known:
            return known
    return "stop"


def last_seq(events: list[EventRecord]) -> int:
    """The highest seq the stored events carry, 0 for none."""
    seqs = [e.metadata.get("seq") for e in events]
    return max((s for s in seqs if isinstance(s, int)), default=0)


def client_message_ids(events: list[EventRecord]) -> dict[str, str]:
    """Each stored `client_message_id` and the `message_id` it was answered under."""
    known: dict[str, str] = {}
    for event in events:
        client_id = event.metadata.get("client_message_id")
        message_id = event.metadata.get("message_id")
        if event.event_type == "user_message" and isinstance(client_id, str):
            known[client_id] = str(message_id)
    return known


def unanswered(events: list[EventRecord]) -> list[EventRecord]:
    """User messages whose answer was never stored (their process died mid-answer)."""
    answered = {e.metadata.get("message_id") for e in events if e.event_type == "assistant_message"}
    return [
        e
        for e in events
        if e.event_type == "user_message"
        and e.metadata.get("message_id") is not None
        and e.metadata.get("message_id") not in answered
    ]


_HISTORY_ROLES = {"user_message": "user", "assistant_message": "assistant"}


def history_messages(events: list[EventRecord]) -> list[Message]:
    """The stored user and assistant messages as model history (tool traffic is in the answers).

    Each answer follows its own question: a message queued behind an answer is stored
    when it arrives, before the answer it waited for.
    """
    asked = {
        e.metadata.get("message_id") for e in events if _HISTORY_ROLES.get(e.event_type) == "user"
    }
    answers = {
        mid: e
        for e in events
        if _HISTORY_ROLES.get(e.event_type) == "assistant"
        and (mid := e.metadata.get("message_id")) in asked
        and mid is not None
    }
    paired = {e.id for e in answers.values()}
    messages: list[Message] = []
    for event in events:
        role = _HISTORY_ROLES.get(event.event_type)
        if role == "user":
            messages.append({"role": "user", "content": event.content})
            answer = answers.get(event.metadata.get("message_id"))
            if answer is not None and answer.content:
                messages.append({"role": "assistant", "content": answer.content})
        elif role == "assistant" and event.content and event.id not in paired:
            messages.append({"role": "assistant", "content": event.content})  # older rows
    return messages
