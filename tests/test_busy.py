"""Busy sessions over the real WebSocket: enqueue, interrupt, the queue limit, idempotent sends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from app.background import BackgroundServer
from app.config import Settings
from tests.wsclient import next_of, of_type, open_session, receive, send, stored_events

ServerFactory = Callable[[Settings], BackgroundServer]


@pytest.fixture
def slow(settings: Settings, server_factory: ServerFactory) -> BackgroundServer:
    """A server whose answers take a few seconds (the local model paces its words)."""
    return server_factory(settings.model_copy(update={"local_llm_delay_ms": 40}))


async def _message(ws: ClientConnection, content: str, **fields: Any) -> None:
    await send(ws, {"type": "user.message", "content": content, **fields})


async def _frames_until_dones(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while len(of_type(frames, "assistant.done")) < count:
        frames.append(await receive(ws, timeout=30))
    return frames


async def test_enqueued_messages_are_answered_in_order_after_the_current_one(
    slow: BackgroundServer,
) -> None:
    ws, _ = await open_session(slow.url, "b-queue")
    await _message(ws, "Tell me about tides.")
    await next_of(ws, "assistant.delta")
    await _message(ws, "And the moon?", on_busy="enqueue")
    await _message(ws, "And the sun?", on_busy="enqueue")
    frames = await _frames_until_dones(ws, 3)
    echoes = of_type(frames, "user.message")
    assert [(e["content"], e["queued"]) for e in echoes] == [
        ("And the moon?", True),
        ("And the sun?", True),
    ]
    dones = of_type(frames, "assistant.done")
    assert [d["finish_reason"] for d in dones] == ["stop"] * 3
    assert [d["message_id"] for d in dones[1:]] == [e["message_id"] for e in echoes]
    await ws.close()
    users = [
        e["content"]
        for e in await stored_events(slow.url, "b-queue")
        if e["event_type"] == "user_message"
    ]
    assert users == ["Tell me about tides.", "And the moon?", "And the sun?"]


async def test_more_than_ten_waiting_messages_get_busy(slow: BackgroundServer) -> None:
    ws, _ = await open_session(slow.url, "b-limit")
    await _message(ws, "Tell me about tides.")
    await next_of(ws, "assistant.delta")
    for n in range(11):
        await _message(ws, f"queued {n}", on_busy="enqueue")
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["type"] != "error":
        frames.append(await receive(ws))
    assert frames[-1]["code"] == "busy" and "seq" not in frames[-1]
    echoes = of_type(frames, "user.message")
    assert [e["content"] for e in echoes] == [f"queued {n}" for n in range(10)]
    assert all(e["queued"] for e in echoes)
    await ws.close()


async def test_interrupt_cancels_the_answer_and_answers_the_new_message(
    slow: BackgroundServer,
) -> None:
    ws, _ = await open_session(slow.url, "b-interrupt")
    await _message(ws, "Tell me about tides.")
    await next_of(ws, "assistant.delta")
    await _message(ws, "Actually, what time is it?", on_busy="interrupt")
    frames = await _frames_until_dones(ws, 2)
    first, second = of_type(frames, "assistant.done")
    assert first["finish_reason"] == "cancelled" and second["finish_reason"] == "stop"
    assert of_type(frames, "tool.call")[0]["name"] == "get_current_time"
    await ws.close()
    reasons = [
        e["metadata"]["finish_reason"]
        for e in await stored_events(slow.url, "b-interrupt")
        if e["event_type"] == "assistant_message"
    ]
    assert reasons == ["cancelled", "stop"]


async def test_a_repeated_client_message_id_is_answered_once_also_across_reconnects(
    live_server: BackgroundServer,
) -> None:
    ws, _ = await open_session(live_server.url, "b-idem")
    await _message(ws, "Hello!", client_message_id="c-1")
    original = await _frames_until_dones(ws, 1)
    echo = of_type(original, "user.message")[0]
    assert echo["client_message_id"] == "c-1" and not echo["duplicate"]
    await _message(ws, "Hello!", client_message_id="c-1")
    repeat = await receive(ws)
    assert repeat["duplicate"] is True and repeat["message_id"] == echo["message_id"]
    assert "seq" not in repeat
    await ws.close()
    again, _ = await open_session(live_server.url, "b-idem")
    await _message(again, "Hello!", client_message_id="c-1")
    assert (await receive(again))["message_id"] == echo["message_id"]
    await send(again, {"type": "ping"})
    assert await receive(again) == {"type": "pong"}  # nothing else started
    await again.close()
    events = await stored_events(live_server.url, "b-idem")
    users = [e for e in events if e["event_type"] == "user_message"]
    assert len(users) == 1 and users[0]["metadata"]["client_message_id"] == "c-1"
    assert len([e for e in events if e["event_type"] == "assistant_message"]) == 1


@pytest.mark.parametrize("delay_ms", [0, 1, 2, 3, 5, 10])
async def test_every_message_gets_exactly_one_done_whenever_cancel_comes(
    slow: BackgroundServer, delay_ms: int
) -> None:
    session_id = f"b-race-{delay_ms}"
    ws, _ = await open_session(slow.url, session_id)
    for attempt in range(5):
        await _message(ws, f"Tell me a story, take {attempt}.")
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)  # the race's width, not a synchronisation
        await send(ws, {"type": "cancel"})
        frames = await _frames_until_dones(ws, 1)
        [done] = of_type(frames, "assistant.done")
        assert done["finish_reason"] in ("cancelled", "stop")
    await send(ws, {"type": "ping"})
    assert await receive(ws) == {"type": "pong"}  # no second done is on its way
    await ws.close()
    events = await stored_events(slow.url, session_id)
    users = [e["metadata"]["message_id"] for e in events if e["event_type"] == "user_message"]
    answers = [
        e["metadata"]["message_id"] for e in events if e["event_type"] == "assistant_message"
    ]
    assert len(users) == 5 and sorted(users) == sorted(answers)
