"""The pure client-frame parser and the frame encoding."""

from __future__ import annotations

import json

import pytest

from app.chat.events import (
    AssistantDelta,
    Cancel,
    ErrorFrame,
    Ping,
    UserMessage,
    encode_frame,
    parse_client_frame,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type": "user.message", "content": "hi"}', UserMessage(content="hi")),
        ('{"type": "cancel"}', Cancel()),
        ('{"type": "ping", "extra": 1}', Ping()),
        ("hello there", UserMessage(content="hello there")),
        ('"a JSON string"', UserMessage(content='"a JSON string"')),
        ('{"content": "no type"}', UserMessage(content='{"content": "no type"}')),
        ('{"type": 7}', UserMessage(content='{"type": 7}')),
        ("{broken json", UserMessage(content="{broken json")),
    ],
)
def test_frames_parse_to_their_types(text: str, expected: object) -> None:
    assert parse_client_frame(text, max_chars=100) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"type": "user.message", "content": ["x"]}', "invalid_message"),
        ('{"type": "user.message", "content": ""}', "invalid_message"),
        ('{"type": "teleport"}', "invalid_message"),
        ("   ", "invalid_message"),
        ("x" * 101, "message_too_large"),
        ('{"type": "user.message", "content": "' + "y" * 101 + '"}', "message_too_large"),
    ],
)
def test_bad_frames_become_error_frames(text: str, code: str) -> None:
    frame = parse_client_frame(text, max_chars=100)
    assert isinstance(frame, ErrorFrame) and frame.code == code and frame.message


def test_a_message_of_exactly_the_limit_is_accepted() -> None:
    assert parse_client_frame("z" * 100, max_chars=100) == UserMessage(content="z" * 100)


def test_encoded_frames_carry_their_type_first() -> None:
    text = encode_frame(AssistantDelta(message_id="m1", delta='Hé "quoted" 🎉'))
    assert text.startswith('{"type":"assistant.delta"')
    assert json.loads(text) == {
        "type": "assistant.delta",
        "message_id": "m1",
        "delta": 'Hé "quoted" 🎉',
    }
