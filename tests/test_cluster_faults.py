"""Several processes when things fail: a process killed mid-answer, many ends at once, Redis away.

Each test starts its own processes (and, for the Redis outage, its own `redis-server`).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.cluster_processes import (
    Processes,
    cluster_database,
    cluster_env,
    drop_prefix,
    processes,
    unique_prefix,
)
from tests.processes import free_port
from tests.wsclient import ask, next_of, of_type, open_session, receive, send, stored_events

pytestmark = pytest.mark.timeout(240)
__all__ = ["processes"]

LEASE_SECONDS = 4
STORY = "Tell me about the sea and the mountains please"


@pytest.fixture
async def cluster_db() -> AsyncIterator[str]:
    """A PostgreSQL database of its own (a missing server fails, never skips)."""
    async with cluster_database("rt_faults") as url:
        yield url


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A Redis key prefix of the test's own."""
    name = unique_prefix()
    yield name
    await drop_prefix(name)


async def _session(base_url: str, session_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url) as http:
        found: dict[str, Any] = (await http.get(f"/sessions/{session_id}")).json()
        return found


async def _until_summarised(base_url: str, session_ids: list[str], timeout: float) -> float:
    """Seconds until every session is ended with a summary (fails after `timeout`)."""
    start = time.monotonic()
    pending = set(session_ids)
    while pending:
        for session_id in list(pending):
            found = await _session(base_url, session_id)
            if found["status"] == "ended" and found["summary"]:
                pending.discard(session_id)
        assert time.monotonic() - start < timeout, f"not summarised in time: {sorted(pending)}"
        await asyncio.sleep(0.1)
    return time.monotonic() - start


def _summaries(events: list[dict[str, Any]]) -> int:
    return len([e for e in events if e["event_type"] == "summary"])


async def test_a_killed_process_s_session_is_ended_by_another_with_its_streamed_part(
    cluster_db: str, prefix: str, processes: Processes
) -> None:
    env = cluster_env(cluster_db, prefix, local_llm_delay_ms=40)
    a, b = await processes.start_many(env, "a", "b")
    session_id = f"killed-{uuid.uuid4().hex[:8]}"
    ws, _ = await open_session(a.url, session_id)
    first = await ask(ws, "hello")
    await send(ws, {"type": "user.message", "content": STORY})
    seen = [await next_of(ws, "user.message")]
    while len(of_type(seen, "assistant.delta")) < 5:
        seen.append(await receive(ws))
    a.kill()
    took = await _until_summarised(b.url, [session_id], timeout=LEASE_SECONDS + 5)
    events = await stored_events(b.url, session_id)
    answers = [e for e in events if e["event_type"] == "assistant_message"]
    assert [a["metadata"]["finish_reason"] for a in answers] == ["stop", "interrupted"]
    cut = answers[-1]["content"]
    # The stream is written beside the socket, not before it: the last delta the client got
    # may still have been on its way to Redis when the process died.
    deltas = [f["delta"] for f in of_type(seen, "assistant.delta")]
    assert cut.startswith("".join(deltas[:-1])) and len(cut) >= len("".join(deltas[:-1]))
    assert cut.startswith("".join(deltas)) or "".join(deltas).startswith(cut)
    assert [e["content"] for e in events if e["event_type"] == "user_message"] == ["hello", STORY]
    assert _summaries(events) == 1
    assert took <= LEASE_SECONDS + 5
    # The session resumes on B; its seqs go on above everything handed out before the crash.
    again, started = await open_session(b.url, session_id, after_seq=0)
    highest = max(f["seq"] for f in [*first, *seen])
    assert started["resumed"] and started["last_seq"] > highest
    replayed: list[dict[str, Any]] = []
    while len(replayed) < 4:
        replayed.append(await receive(again))
    assert [f["type"] for f in replayed] == ["user.message", "assistant.done"] * 2
    assert replayed[-1]["finish_reason"] == "interrupted"
    frames = await ask(again, "hello again")
    assert min(f["seq"] for f in frames if "seq" in f) > started["last_seq"] - 1
    assert min(f["seq"] for f in frames if "seq" in f) > highest
    await again.close()
    await _until_summarised(b.url, [session_id], timeout=10)
    # One summary per end: the first end (by B after the crash) and this one.
    await _until_summaries(b.url, session_id, 2)


async def _until_summaries(base_url: str, session_id: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while _summaries(await stored_events(base_url, session_id)) < count:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert _summaries(await stored_events(base_url, session_id)) == count


async def test_fifty_sessions_ended_at_once_across_processes_get_fifty_summaries(
    cluster_db: str, prefix: str, processes: Processes
) -> None:
    env = cluster_env(cluster_db, prefix)
    nodes = await processes.start_many(env, "a", "b", "c")
    ids = [f"many-{i}-{uuid.uuid4().hex[:6]}" for i in range(50)]
    # Writers spread over the processes, each session watched from another one.
    opened = await asyncio.gather(
        *(open_session(nodes[i % 3].url, sid) for i, sid in enumerate(ids))
    )
    watchers = await asyncio.gather(
        *(open_session(nodes[(i + 1) % 3].url, sid, mode="observe") for i, sid in enumerate(ids))
    )
    await asyncio.gather(*(ask(ws, "hello") for ws, _ in opened))
    await asyncio.gather(*(ws.close() for ws, _ in opened))
    await _until_summarised(nodes[0].url, ids, timeout=60)
    await asyncio.gather(*(ws.close() for ws, _ in watchers))
    # Give every process's sweep a few rounds at them: still one summary each, never two.
    await asyncio.sleep(LEASE_SECONDS)
    counts = await asyncio.gather(*(stored_events(nodes[1].url, sid) for sid in ids))
    assert [_summaries(events) for events in counts] == [1] * 50


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A `redis-server` of the test's own on a free port, which the test stops and starts."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; this test needs it")
    server = PrivateRedis(binary, free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


class PrivateRedis:
    """A throwaway Redis without persistence: a restart comes back empty."""

    def __init__(self, binary: str, port: int, cwd: Path) -> None:
        self.binary, self.port, self.cwd = binary, port, cwd
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers."""
        args = [self.binary, "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            args, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True
            ).stdout.strip()
            != b"PONG"
        ):
            assert time.monotonic() < deadline, "the private redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop it (SIGTERM) and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


async def _health(base_url: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url) as http:
        return await http.get("/health")


async def _until_health(base_url: str, status: int) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while (answer := await _health(base_url)).status_code != status:
        assert time.monotonic() < deadline, answer.text
        await asyncio.sleep(0.1)
    found: dict[str, Any] = answer.json()
    return found


async def test_while_redis_is_away_each_process_serves_its_sessions_and_recovers(
    cluster_db: str, processes: Processes, private_redis: PrivateRedis
) -> None:
    env = cluster_env(cluster_db, unique_prefix(), redis_url=private_redis.url)
    a, b = await processes.start_many(env, "a", "b")
    for node in (a, b):
        assert (await _until_health(node.url, 200))["bus"] == "redis"
    on_a, _ = await open_session(a.url, "away-a")
    on_b, _ = await open_session(b.url, "away-b")
    private_redis.stop()
    for node in (a, b):
        down = await _until_health(node.url, 503)
        assert down["bus"] == "redis" and "redis" in down["detail"]
    for ws, name in ((on_a, "a"), (on_b, "b")):
        done = (await ask(ws, f"hello from {name}"))[-1]
        assert done["finish_reason"] == "stop"
    # A connection reaching the process that does not hold the session cannot be relayed.
    with pytest.raises(ConnectionClosed) as refused:
        await open_session(b.url, "away-a", mode="observe")
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 1013
    private_redis.start()
    for node in (a, b):
        assert (await _until_health(node.url, 200))["bus"] == "redis"
    # Relaying works again: an observer on B of A's session sees A's answer.
    watcher = await _observe_when_relayed(b.url, "away-a")
    await send(on_a, {"type": "user.message", "content": "hello again"})
    done = await next_of(watcher, "assistant.done")
    assert done["finish_reason"] == "stop" and done["content"].startswith("Hello")
    await watcher.close()
    for ws in (on_a, on_b):
        await ws.close()
    stored = await stored_events(a.url, "away-a")
    answers = [e for e in stored if e["event_type"] == "assistant_message"]
    assert [e["metadata"]["finish_reason"] for e in answers] == ["stop", "stop"]


async def _observe_when_relayed(base_url: str, session_id: str) -> Any:
    """An observer through the relay, once the holder listens on Redis again."""
    deadline = time.monotonic() + 20
    while True:
        try:
            ws, _ = await open_session(base_url, session_id, mode="observe")
            return ws
        except (ConnectionClosed, AssertionError):
            assert time.monotonic() < deadline, "the relay did not come back"
            await asyncio.sleep(0.1)
