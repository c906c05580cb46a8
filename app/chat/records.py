"""Frames as stored events and back: what the log stores, what a replay reads, model history."""

from __future__ import annotations

from typing import Any

import orjson

from app.chat.events import (
    AssistantDone,
    ContextCompacted,
    ConversationFrame,
    ErrorFrame,
    ToolCall,
    ToolResult,
    UserMessageEcho,
)
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
    if isinstance(frame, ContextCompacted):
        metadata = {
            **base,
            "covers_through_id": frame.covers_through_id,
            "tokens_before": frame.tokens_before,
            "tokens_after": frame.tokens_after,
        }
        return _event(session_id, "context_summary", frame.summary, metadata)
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
    if event.event_type == "context_summary" and isinstance(seq, int):
        return _compacted(event, seq)
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


def _compacted(event: EventRecord, seq: int) -> ContextCompacted:
    meta = event.metadata
    return ContextCompacted(
        covers_through_id=int(meta.get("covers_through_id") or 0),
        summary=event.content,
        tokens_before=int(meta.get("tokens_before") or 0),
        tokens_after=int(meta.get("tokens_after") or 0),
        seq=seq,
    )


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
