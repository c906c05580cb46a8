"""Sequence numbers and replay over the real WebSocket: after a close, a drop, a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from app.background import BackgroundServer
from app.config import Settings
from tests.wsclient import (
    ask,
    next_of,
    open_session,
    read_turn,
    receive,
    send,
    stored_events,
    wait_for_summary,
)

ServerFactory = Callable[[Settings], BackgroundServer]

NUMBERED = {"user.message", "assistant.delta", "tool.call", "tool.result", "assistant.done"}


def _seqs(frames: list[dict[str, Any]]) -> list[int]:
    return [f["seq"] for f in frames if f["type"] in NUMBERED]


async def test_conversation_frames_carry_strictly_increasing_seqs(
    live_server: BackgroundServer,
) -> None:
    ws, started = await open_session(live_server.url, "r-seq")
    assert started["last_seq"] == 0 and started["mode"] == "write"
    frames = [*await ask(ws, "What time is it?"), *await ask(ws, "Thanks!")]
    seqs = _seqs(frames)
    assert seqs == sorted(set(seqs)) and seqs[0] == 1
    await send(ws, {"type": "ping"})
    assert await receive(ws) == {"type": "pong"}  # frames for one connection carry none
    await ws.close()


async def test_replay_after_a_clean_close_sends_the_stored_turns_in_order(
    live_server: BackgroundServer,
) -> None:
    ws, _ = await open_session(live_server.url, "r-close")
    first = await ask(ws, "Do we have any mice in stock?")
    second = await ask(ws, "Do we have any keyboards in stock?")
    await ws.close()
    await wait_for_summary(live_server.url, "r-close")
    cut = first[-1]["seq"]
    again, started = await open_session(live_server.url, "r-close", after_seq=cut)
    assert started["last_seq"] == second[-1]["seq"]
    replayed = await read_turn(again)
    kinds = [f["type"] for f in replayed]
    assert (
        kinds[0] == "user.message"
        and replayed[0]["content"] == "Do we have any keyboards in stock?"
    )
    assert "tool.call" in kinds and "tool.result" in kinds
    assert replayed[-1]["content"] == second[-1]["content"]
    assert all(f["seq"] > cut for f in replayed) and _seqs(replayed) == sorted(_seqs(replayed))
    await again.close()


async def test_seqs_go_on_rising_across_a_server_restart(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = server_factory(settings)
    ws, _ = await open_session(server.url, "r-restart")
    before = await ask(ws, "Hello there")
    await ws.close()
    await wait_for_summary(server.url, "r-restart")
    server.stop()
    restarted = server_factory(settings)
    again, started = await open_session(restarted.url, "r-restart", after_seq=0)
    assert started["last_seq"] == before[-1]["seq"]
    echo, done = await receive(again), await receive(again)
    assert (echo["type"], echo["seq"]) == ("user.message", before[0]["seq"])
    assert (done["type"], done["content"]) == ("assistant.done", before[-1]["content"])
    after = await ask(again, "Still there?")
    assert min(_seqs(after)) > before[-1]["seq"]
    await again.close()


async def test_a_long_compacted_session_replays_every_stored_frame_in_order_after_a_restart(
    settings: Settings, server_factory: ServerFactory
) -> None:
    # A small context budget, so that the replay carries `context.compacted` frames too;
    # over 100 stored frames, so that it goes out in several chunks.
    small = settings.model_copy(update={"llm_context_tokens": 600})
    server = server_factory(small)
    ws, _ = await open_session(server.url, "r-long-restart")
    sent: list[dict[str, Any]] = []
    for number in range(60):
        text = "Do we have any mice in stock?" if number % 9 == 0 else f"Question {number}?"
        sent += await ask(ws, text)
    await ws.close()
    await wait_for_summary(server.url, "r-long-restart")
    server.stop()
    stored = [f for f in sent if "seq" in f and f["type"] != "assistant.delta"]
    assert any(f["type"] == "context.compacted" for f in stored) and len(stored) > 100
    again, started = await open_session(server_factory(small).url, "r-long-restart", after_seq=0)
    assert started["last_seq"] == stored[-1]["seq"]
    replayed = [await receive(again) for _ in stored]
    assert [(f["type"], f["seq"]) for f in replayed] == [(f["type"], f["seq"]) for f in stored]
    assert [f.get("content") for f in replayed] == [f.get("content") for f in stored]
    after = await ask(again, "Still there?")
    assert min(_seqs(after)) > stored[-1]["seq"]
    await again.close()


async def _slow(
    settings: Settings, server_factory: ServerFactory, **update: Any
) -> BackgroundServer:
    return server_factory(settings.model_copy(update={"local_llm_delay_ms": 40, **update}))


async def _rest_of_answer(ws: ClientConnection) -> list[dict[str, Any]]:
    return await read_turn(ws, timeout=30)


@pytest.mark.parametrize("drop", ["close", "abort"])
@pytest.mark.parametrize("cut_after", [1, 5])
async def test_an_answer_continues_without_a_client_and_replays_the_rest(
    settings: Settings, server_factory: ServerFactory, drop: str, cut_after: int
) -> None:
    server = await _slow(settings, server_factory)
    session_id = f"r-continue-{drop}-{cut_after}"
    ws, _ = await open_session(server.url, session_id, on_disconnect="continue")
    await send(ws, {"type": "user.message", "content": "Tell me about tides."})
    before = [await next_of(ws, "assistant.delta") for _ in range(cut_after)]
    if drop == "close":
        await ws.close()
    else:
        ws.transport.abort()
    # After a drop the server may not have seen the old socket go yet: take over from it.
    mode = "write" if drop == "close" else "takeover"
    again, started = await open_session(
        server.url, session_id, after_seq=before[-1]["seq"], mode=mode
    )
    assert started["resumed"] is True and started["last_seq"] >= before[-1]["seq"]
    after = await _rest_of_answer(again)
    done = after[-1]
    assert done["finish_reason"] == "stop"
    text = "".join(f["delta"] for f in [*before, *after] if f["type"] == "assistant.delta")
    assert text == done["content"]
    seqs = [f["seq"] for f in [*before, *after]]
    assert seqs == sorted(set(seqs))
    await again.close()
    answers = [
        e
        for e in await stored_events(server.url, session_id)
        if e["event_type"] == "assistant_message"
    ]
    assert [(a["content"], a["metadata"]["finish_reason"]) for a in answers] == [
        (done["content"], "stop")
    ]


async def test_an_answer_with_no_client_at_all_is_stored_whole(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = await _slow(settings, server_factory)
    ws, _ = await open_session(server.url, "r-alone", on_disconnect="continue")
    await send(ws, {"type": "user.message", "content": "Tell me about tides."})
    await next_of(ws, "assistant.delta")
    ws.transport.abort()
    session = await wait_for_summary(server.url, "r-alone", timeout=30)
    assert session["status"] == "ended"
    [answer] = [
        e
        for e in await stored_events(server.url, "r-alone")
        if e["event_type"] == "assistant_message"
    ]
    assert answer["metadata"]["finish_reason"] == "stop" and len(answer["content"].split()) > 20


async def test_the_default_on_disconnect_cancels_and_a_replay_shows_the_cancelled_done(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = await _slow(settings, server_factory)
    ws, _ = await open_session(server.url, "r-cancel")
    await send(ws, {"type": "user.message", "content": "Tell me about tides."})
    first = await next_of(ws, "assistant.delta")
    ws.transport.abort()
    await wait_for_summary(server.url, "r-cancel", timeout=30)
    again, _ = await open_session(server.url, "r-cancel", after_seq=first["seq"])
    done = await receive(again)
    assert done["type"] == "assistant.done" and done["finish_reason"] == "cancelled"
    assert done["content"].startswith(first["delta"])
    await again.close()


async def test_within_the_grace_period_the_session_stays_active_for_a_reconnect(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = server_factory(settings.model_copy(update={"resume_grace_seconds": 30}))
    ws, _ = await open_session(server.url, "r-grace")
    await ask(ws, "Hello")
    ws.transport.abort()
    again, started = await open_session(server.url, "r-grace", mode="takeover")
    assert started["history"] == 2
    await ask(again, "Still here?")
    await again.close()
    kinds = [e["event_type"] for e in await stored_events(server.url, "r-grace")]
    assert "session_end" not in kinds and kinds.count("session_start") == 1
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/sessions/r-grace")).json()["status"] == "active"


async def test_after_the_grace_period_the_session_ends(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = server_factory(settings.model_copy(update={"resume_grace_seconds": 0.2}))
    ws, _ = await open_session(server.url, "r-grace-end")
    await ask(ws, "Hello")
    await ws.close()
    session = await wait_for_summary(server.url, "r-grace-end")
    assert session["status"] == "ended"


async def test_a_replay_longer_than_the_outbox_bound_arrives_whole(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = server_factory(settings.model_copy(update={"ws_outbox_frames": 6}))
    ws, _ = await open_session(server.url, "r-long")
    dones = [(await ask(ws, f"Question {n}?"))[-1] for n in range(6)]
    await ws.close()
    await wait_for_summary(server.url, "r-long")
    again, _ = await open_session(server.url, "r-long", after_seq=0)
    replayed: list[dict[str, Any]] = []
    while not replayed or replayed[-1].get("seq") != dones[-1]["seq"]:
        replayed.append(await receive(again))
    assert [f["content"] for f in replayed if f["type"] == "assistant.done"] == [
        d["content"] for d in dones
    ]
    await again.close()
