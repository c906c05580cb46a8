"""Several processes as one service: real `python -m app` processes on one PostgreSQL and Redis.

Whichever process each connection reaches: one writer (4409), takeover (4410) with the rest
of the answer on the new connection, observers seeing every frame, replay of an answer
still being generated elsewhere, and `cancel` / `on_busy` reaching the process that runs it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.client import ws_url
from tests.cluster_processes import (
    Processes,
    ServerProcess,
    cluster_database,
    cluster_env,
    drop_prefix,
    unique_prefix,
)
from tests.wsclient import next_of, of_type, open_session, read_turn, receive, send, stored_events

pytestmark = pytest.mark.timeout(180)

STORY = "Tell me about the sea and the mountains please"


@pytest.fixture(scope="module")
async def cluster_db() -> AsyncIterator[str]:
    """A PostgreSQL database of its own for the module (a missing server fails, never skips)."""
    async with cluster_database("rt_cluster") as url:
        yield url


@pytest.fixture(scope="module")
async def pair(
    cluster_db: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    """Two processes, A and B, whose answers take about two seconds."""
    prefix = unique_prefix()
    running = Processes(tmp_path_factory.mktemp("pair"))
    env = cluster_env(cluster_db, prefix, local_llm_delay_ms=40)
    a, b = await running.start_many(env, "a", "b")
    yield a, b
    running.stop_all()
    await drop_prefix(prefix)


def _sid(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def _try_open(base_url: str, session_id: str, **query: str) -> tuple[Any, int | None]:
    """The connection and its `session.started`, or None and the close code it got."""
    url = ws_url(base_url, session_id)
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query)
    ws = await connect(url)
    try:
        return (ws, await receive(ws)), None
    except ConnectionClosed:
        return None, ws.close_code


async def _closed_with(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """The frames a connection still got, and the code it was closed with."""
    frames: list[dict[str, Any]] = []
    try:
        while True:
            frames.append(await receive(ws))
    except ConnectionClosed:
        return frames, ws.close_code


def _text(frames: list[dict[str, Any]]) -> str:
    return "".join(f["delta"] for f in of_type(frames, "assistant.delta"))


def _seqs(frames: list[dict[str, Any]]) -> list[int]:
    return [f["seq"] for f in frames if "seq" in f]


async def test_one_writer_per_session_whichever_process_each_connection_reaches(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    for delay_ms in range(0, 11, 2):
        session_id = _sid(f"w4409-{delay_ms}")
        first = asyncio.ensure_future(_try_open(a.url, session_id))
        await asyncio.sleep(delay_ms / 1000)
        second = asyncio.ensure_future(_try_open(b.url, session_id))
        outcomes = await asyncio.gather(first, second)
        accepted = [opened for opened, _code in outcomes if opened is not None]
        codes = [code for opened, code in outcomes if opened is None]
        assert len(accepted) == 1 and codes == [4409], (delay_ms, outcomes)
        ws, started = accepted[0]
        assert started["type"] == "session.started" and started["mode"] == "write"
        for base in (a.url, b.url):
            again, code = await _try_open(base, session_id)
            assert again is None and code == 4409
        watcher, started = await open_session(b.url, session_id, mode="observe")
        assert started["mode"] == "observe"
        await watcher.close()
        await ws.close()


async def test_takeover_from_another_process_gets_the_rest_of_the_answer(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    for delay_ms in (0, 3, 6, 10):
        session_id = _sid(f"take-{delay_ms}")
        old, _ = await open_session(a.url, session_id)
        await send(old, {"type": "user.message", "content": STORY})
        old_frames = [await next_of(old, "assistant.delta")]
        await asyncio.sleep(delay_ms / 1000)
        new, started = await open_session(b.url, session_id, mode="takeover")
        assert started["mode"] == "write"
        rest, code = await _closed_with(old)
        old_frames += rest
        assert code == 4410
        new_frames = await read_turn(new)
        done = new_frames[-1]
        assert done["finish_reason"] == "stop"
        # Nothing lost nor repeated at the switch: the old one's deltas, then the new one's.
        assert _text(old_frames) + _text(new_frames) == done["content"]
        seqs = _seqs(new_frames)
        assert seqs == sorted(set(seqs)) and seqs[0] > started["last_seq"] - 1
        await new.close()
        stored = await _answers(b.url, session_id, 1)
        assert [(e["content"], e["metadata"]["finish_reason"]) for e in stored] == [
            (done["content"], "stop")
        ]


async def _answers(base_url: str, session_id: str, count: int) -> list[dict[str, Any]]:
    """The session's stored answers, once `count` are there: an answer is written just after
    its `assistant.done` goes out, by the process that ran it."""
    async with asyncio.timeout(10):
        while True:
            events = await stored_events(base_url, session_id)
            answers = [e for e in events if e["event_type"] == "assistant_message"]
            if len(answers) >= count:
                return answers
            await asyncio.sleep(0.05)


async def test_an_observer_on_another_process_sees_every_frame_the_writer_gets(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    session_id = _sid("watch")
    writer, _ = await open_session(a.url, session_id)
    observer, started = await open_session(b.url, session_id, mode="observe")
    assert started["mode"] == "observe"
    for question, tools in (("What time is it?", 1), (STORY, 0)):
        await send(writer, {"type": "user.message", "content": question})
        mine, theirs = await asyncio.gather(read_turn(writer), read_turn(observer))
        # Deltas may merge differently on each socket; everything else is the same frame.
        assert [f for f in mine if f["type"] != "assistant.delta"] == [
            f for f in theirs if f["type"] != "assistant.delta"
        ]
        assert _text(mine) == _text(theirs) == mine[-1]["content"]
        assert mine[-1]["seq"] == theirs[-1]["seq"]
        assert len(of_type(theirs, "tool.call")) == len(of_type(theirs, "tool.result")) == tools
    await send(observer, {"type": "user.message", "content": "may I?"})
    assert (await next_of(observer, "error"))["code"] == "read_only"
    await send(observer, {"type": "cancel"})
    assert (await next_of(observer, "error"))["code"] == "read_only"
    await send(observer, {"type": "ping"})
    assert (await receive(observer))["type"] == "pong"
    await observer.close()
    await writer.close()


async def test_an_answer_left_on_one_process_is_replayed_and_finished_on_another(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    for delay_ms in (0, 5, 10):
        session_id = _sid(f"move-{delay_ms}")
        first, _ = await open_session(a.url, session_id, on_disconnect="continue")
        await send(first, {"type": "user.message", "content": STORY})
        before = [await next_of(first, "user.message")]
        while len(of_type(before, "assistant.delta")) < 3:
            before.append(await receive(first))
        await first.close()
        await asyncio.sleep(delay_ms / 1000)
        last = before[-1]["seq"]
        second, started = await open_session(b.url, session_id, after_seq=last)
        assert started["last_seq"] >= last
        after = await read_turn(second)
        done = after[-1]
        assert done["finish_reason"] == "stop"
        assert _text(before) + _text(after) == done["content"]
        seqs = _seqs(before + after)
        assert seqs == sorted(set(seqs))
        await second.close()


async def test_cancel_and_on_busy_from_another_process_reach_the_running_answer(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    for delay_ms in (0, 5, 10):
        session_id = _sid(f"cancel-{delay_ms}")
        first, _ = await open_session(a.url, session_id, on_disconnect="continue")
        await send(first, {"type": "user.message", "content": STORY})
        await next_of(first, "assistant.delta")
        await first.close()
        second, _ = await open_session(b.url, session_id, after_seq=0)
        await asyncio.sleep(delay_ms / 1000)
        await send(second, {"type": "user.message", "content": "hello"})
        assert (await next_of(second, "error"))["code"] == "busy"
        await send(second, {"type": "cancel"})
        done = await next_of(second, "assistant.done")
        assert done["finish_reason"] == "cancelled"
        assert len(done["content"]) < 200
        await send(second, {"type": "user.message", "content": STORY})
        await next_of(second, "assistant.delta")
        await send(
            second, {"type": "user.message", "content": "hello there", "on_busy": "interrupt"}
        )
        interrupted = await next_of(second, "assistant.done")
        assert interrupted["finish_reason"] == "cancelled"
        answered = await next_of(second, "assistant.done")
        assert answered["finish_reason"] == "stop" and answered["content"].startswith("Hello")
        await second.close()
        reasons = [e["metadata"]["finish_reason"] for e in await _answers(a.url, session_id, 3)]
        assert reasons == ["cancelled", "cancelled", "stop"]


async def test_a_session_its_process_is_letting_go_of_is_taken_by_the_next_connection(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = pair
    for delay_ms in range(0, 11):
        session_id = _sid(f"handover-{delay_ms}")
        first, _ = await open_session(a.url, session_id)
        await send(first, {"type": "user.message", "content": "hi"})
        await next_of(first, "assistant.done")
        # The session ends on A (its lease freed) while B's connection arrives.
        await first.close()
        await asyncio.sleep(delay_ms / 1000)
        second, started = await open_session(b.url, session_id, after_seq=0)
        assert started["mode"] == "write" and started["resumed"]
        # From A's tail (deltas included) or from storage (deltas left out), as it happens.
        replayed = await read_turn(second)
        assert replayed[0]["type"] == "user.message" and replayed[-1]["content"].startswith("Hello")
        await send(second, {"type": "user.message", "content": "hello"})
        done = await next_of(second, "assistant.done")
        assert done["finish_reason"] == "stop" and done["seq"] > replayed[-1]["seq"]
        await second.close()
