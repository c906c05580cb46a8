"""app/client: the one end-of-turn rule, the frame vocabulary it reads, the load client."""

from __future__ import annotations

import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.background import BackgroundServer
from app.chat.events import ServerFrame
from app.client import Frame, ask_timed, ends_turn, open_load_session, read_until, refuses, ws_url
from app.config import Settings
from app.vocabulary import SERVER_FRAME_TYPES
from tests.conftest import make_settings

sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

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


async def test_a_timed_turn_counts_and_times_the_deltas_up_to_the_answers_end(
    server_factory: Callable[[Settings], BackgroundServer], tmp_path: Path
) -> None:
    # Paced past the delta flush window, so each word leaves as a frame of its own.
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'timed.db'}"
    server = server_factory(make_settings(database_url=database_url, local_llm_delay_ms=40))
    ws, started = await open_load_session(ws_url(server.url, "load-timed"))
    async with ws:
        assert started["type"] == "session.started"
        turn = await ask_timed(ws, "Tell me about the sea", gaps=True)
        done = turn.done()
        assert done["type"] == "assistant.done" and done["finish_reason"] == "stop"
        assert turn.deltas > 1
        assert turn.began < turn.first_delta < turn.ended
        assert 0 < turn.longest_gap < turn.ended - turn.began
        plain = await ask_timed(ws, "And the moon?")
        assert plain.deltas > 1 and plain.longest_gap == 0.0


@sqlite_only
async def test_a_refused_message_ends_the_timed_turn_and_done_says_so(
    live_server: BackgroundServer,
) -> None:
    ws, _ = await open_load_session(ws_url(live_server.url, "load-refused"))
    async with ws:
        turn = await ask_timed(ws, "   ")
        assert turn.last["code"] == "invalid_message" and turn.deltas == 0
        with pytest.raises(RuntimeError, match="refused"):
            turn.done()
        await ws.send('{"type": "ping"}')
        assert (await read_until(ws, lambda frame: frame["type"] == "pong"))["type"] == "pong"
