"""Sequence numbers and replay over the real WebSocket: after a close, a drop, a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.background import BackgroundServer
from app.config import Settings
from tests.wsclient import ask, open_session, receive, send, wait_for_summary

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
    replayed: list[dict[str, Any]] = []
    while not replayed or replayed[-1]["type"] != "assistant.done":
        replayed.append(await receive(again))
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
