"""The client's one end-of-turn rule (app/client), and the frame vocabulary it reads."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from app.chat.events import ServerFrame
from app.client import Frame, ends_turn, refuses
from app.vocabulary import SERVER_FRAME_TYPES

ENDS: list[Frame] = [
    {"type": "assistant.done", "message_id": "m", "content": "", "finish_reason": "stop"},
    {"type": "error", "code": "invalid_message", "message": "the message is empty"},
    {"type": "error", "code": "rate_limited", "message": "slow down", "retry_after": 2},
    {"type": "error", "code": "read_only", "message": "this connection observes"},
    {"type": "error", "code": "shutting_down", "message": "reconnect"},
]
GOES_ON: list[Frame] = [
    {"type": "assistant.delta", "message_id": "m", "delta": "Hi"},
    {"type": "user.message", "message_id": "m", "content": "Hi"},
    {"type": "tool.call", "message_id": "m", "call_id": "c", "name": "t", "arguments": {}},
    {"type": "context.compacted", "covers_through_id": 3, "summary": "s"},
    # Another answer runs; it ends with its own assistant.done.
    {"type": "error", "code": "busy", "message": "an answer is streaming"},
    # About an answer (a message_id): that answer's assistant.done follows, or came before.
    {"type": "error", "code": "llm_error", "message": "model down", "message_id": "m"},
    {"type": "error", "code": "internal_error", "message": "failed", "message_id": "m"},
    {"type": "error", "code": "storage_unavailable", "message": "retried", "message_id": "m"},
]


@pytest.mark.parametrize("frame", ENDS)
def test_these_frames_end_a_turn(frame: Frame) -> None:
    assert ends_turn(frame)


@pytest.mark.parametrize("frame", GOES_ON)
def test_these_frames_do_not_end_a_turn(frame: Frame) -> None:
    assert not ends_turn(frame)


def test_an_error_refuses_the_frame_sent_only_when_it_names_no_answer() -> None:
    refusals = [f for f in ENDS + GOES_ON if refuses(f)]
    assert refusals == [f for f in ENDS + GOES_ON if f["type"] == "error" and "message_id" not in f]
    assert {f["code"] for f in refusals} == {
        "invalid_message",
        "rate_limited",
        "read_only",
        "shutting_down",
        "busy",
    }


def _wire_type(frame_class: Any) -> str:
    (kind,) = typing.get_args(typing.get_type_hints(frame_class)["type"])
    return str(kind)


def test_the_vocabulary_names_every_server_frame_and_nothing_else() -> None:
    sent = {_wire_type(kind) for kind in typing.get_args(ServerFrame)}
    assert sent == set(SERVER_FRAME_TYPES)
