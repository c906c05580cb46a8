"""Stored events as model history: each answer follows its own question."""

from __future__ import annotations

from datetime import UTC, datetime

from app.chat.history import turns_from_events
from app.llm.base import Message
from app.store.base import EventRecord


def _event(event_id: int, kind: str, content: str, message_id: str | None) -> EventRecord:
    role = "user" if kind == "user_message" else "assistant"
    return EventRecord(
        id=event_id,
        session_id="s",
        event_type=kind,  # type: ignore[arg-type]
        role=role,  # type: ignore[arg-type]
        content=content,
        metadata={} if message_id is None else {"message_id": message_id},
        created_at=datetime.now(UTC),
    )


def _history(events: list[EventRecord]) -> list[Message]:
    return [m for turn in turns_from_events(events, max_result_tokens=1000) for m in turn.messages]


def test_a_message_queued_behind_an_answer_comes_after_that_answer_in_the_history() -> None:
    # Stored as they happened: the queued question was written before the answer it waited for.
    events = [
        _event(1, "user_message", "tides?", "m1"),
        _event(2, "user_message", "and the moon?", "m2"),
        _event(3, "assistant_message", "tides are...", "m1"),
        _event(4, "assistant_message", "the moon...", "m2"),
    ]
    assert [(m["role"], m["content"]) for m in _history(events)] == [
        ("user", "tides?"),
        ("assistant", "tides are..."),
        ("user", "and the moon?"),
        ("assistant", "the moon..."),
    ]


def test_rows_without_message_ids_keep_their_stored_order_and_empty_answers_are_left_out() -> None:
    events = [
        _event(1, "user_message", "hello", None),
        _event(2, "assistant_message", "hi", None),
        _event(3, "user_message", "cut off", "m3"),
        _event(4, "assistant_message", "", "m3"),
    ]
    assert [(m["role"], m["content"]) for m in _history(events)] == [
        ("user", "hello"),
        ("assistant", "hi"),
        ("user", "cut off"),
    ]
