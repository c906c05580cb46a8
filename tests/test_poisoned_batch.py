"""One bad value among concurrent writers, through the real server: it alone is refused.

Before the store's error model, a NUL character in one user message failed the whole
group-commit batch on PostgreSQL as "database unavailable": the other sessions got
`storage_unavailable` and lost answers their clients had been told were done.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from app.background import BackgroundServer
from tests.wsclient import open_session, receive, send, stored_events, wait_for_summary

SESSIONS = 12
MESSAGES = 4
BAD = "a\u0000b"


async def _converse(ws: ClientConnection, content: str) -> list[dict[str, Any]]:
    await send(ws, {"type": "user.message", "content": content})
    frames = []
    while True:
        frame = await receive(ws, 20)
        frames.append(frame)
        if frame["type"] == "assistant.done" or (
            frame["type"] == "error" and "message_id" not in frame
        ):
            return frames


async def _good_session(url: str, n: int, start: asyncio.Event) -> list[dict[str, Any]]:
    ws, _ = await open_session(url, f"good-{n}")
    await start.wait()
    frames = []
    for i in range(MESSAGES):
        frames += await _converse(ws, f"hello {n}.{i}")
    await ws.close()
    return frames


async def _bad_session(url: str, start: asyncio.Event, delay: float) -> list[dict[str, Any]]:
    ws, _ = await open_session(url, "bad")
    await start.wait()
    await asyncio.sleep(delay)  # where in the others' stream of writes the bad one lands
    frames = []
    for _ in range(MESSAGES):
        frames += await _converse(ws, BAD)
    await ws.close()
    return frames


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("delay_ms", [0, 3, 10])
async def test_a_nul_among_concurrent_writers_is_refused_alone(
    live_server: BackgroundServer, delay_ms: int
) -> None:
    start = asyncio.Event()
    tasks = [
        asyncio.ensure_future(_good_session(live_server.url, n, start)) for n in range(SESSIONS)
    ]
    bad = asyncio.ensure_future(_bad_session(live_server.url, start, delay_ms / 1000))
    await asyncio.sleep(0)
    start.set()
    good_frames = await asyncio.gather(*tasks)
    bad_frames = await bad

    for frames in good_frames:
        assert [f for f in frames if f["type"] == "error"] == []
        assert [f["finish_reason"] for f in frames if f["type"] == "assistant.done"] == ["stop"] * 4
    errors = [f for f in bad_frames if f["type"] == "error"]
    assert [e["code"] for e in errors] == ["invalid_message"] * MESSAGES
    assert not any("asyncpg" in json.dumps(e) or "\\u0000" in e["message"] for e in errors)

    for n, frames in enumerate(good_frames):
        await wait_for_summary(live_server.url, f"good-{n}")
        events = await stored_events(live_server.url, f"good-{n}")
        told = {f["message_id"] for f in frames if f["type"] == "assistant.done"}
        stored = {
            e["metadata"]["message_id"] for e in events if e["event_type"] == "assistant_message"
        }
        assert stored == told
        assert [e["content"] for e in events if e["event_type"] == "user_message"] == [
            f"hello {n}.{i}" for i in range(MESSAGES)
        ]
    bad_events = await stored_events(live_server.url, "bad")
    assert not any("\u0000" in e["content"] for e in bad_events)
