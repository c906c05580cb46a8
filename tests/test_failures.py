"""Failures in the core: database down mid-answer, kill -9, SIGTERM, a client that never reads."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.background import BackgroundServer
from app.client import ws_url
from app.config import Settings
from tests.conftest import make_settings
from tests.servers.tcp_proxy import TcpProxy
from tests.wsclient import next_of, open_session, receive, send, stored_events, wait_for_summary

ROOT = Path(__file__).resolve().parents[1]
ServerFactory = Callable[[Settings], BackgroundServer]


@pytest.fixture
def proxy(fresh_pg_url: str) -> Iterator[TcpProxy]:
    """A cuttable path to a PostgreSQL database of this test's own."""
    url = make_url(fresh_pg_url)
    tcp = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    tcp.restore()
    yield tcp
    tcp.shutdown()


async def _poll(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = await check()
            if value:
                return value
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_an_answer_whose_write_fails_is_kept_retried_and_the_client_told(
    fresh_pg_url: str, proxy: TcpProxy, server_factory: ServerFactory
) -> None:
    url = make_url(fresh_pg_url).set(port=proxy.port).render_as_string(hide_password=False)
    server = server_factory(
        make_settings(database_url=url, local_llm_delay_ms=30, orphan_sweep_seconds=0.2)
    )
    ws, _ = await open_session(server.url, "f-down", on_disconnect="continue")
    await send(ws, {"type": "user.message", "content": "Tell me about tides."})
    await next_of(ws, "assistant.delta")

    async def question_stored() -> bool:
        events = await stored_events(server.url, "f-down")
        return any(e["event_type"] == "user_message" for e in events)

    # Deltas may stream while the question is written: the cut comes once it is stored.
    await _poll(question_stored)
    proxy.cut()
    done = await next_of(ws, "assistant.done", timeout=30)
    error = await next_of(ws, "error", timeout=30)
    assert done["finish_reason"] == "stop"
    assert error["code"] == "storage_unavailable" and error["message_id"] == done["message_id"]
    assert error["seq"] > done["seq"]
    await ws.close()
    proxy.restore()

    async def answer_stored() -> bool:
        events = await stored_events(server.url, "f-down")
        return any(
            e["event_type"] == "assistant_message" and e["content"] == done["content"]
            for e in events
        )

    await _poll(answer_stored)
    session = await wait_for_summary(server.url, "f-down", timeout=30)
    assert session["status"] == "ended"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(folder: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m app` on a free port, its SQLite database in `folder`; waits for /health."""
    port = _free_port()
    values = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUPABASE_"))}
    values.update(
        LLM_PROVIDER="local", API_KEY="", LOG_LEVEL="warning", PORT=str(port),
        PYTHONPATH=str(ROOT), **env,
    )  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "app"], cwd=folder, env=values)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return process, base
        except httpx.TransportError:
            assert process.poll() is None, "the server exited at start-up"
            assert time.monotonic() < deadline, "the server did not start in 30 s"
            time.sleep(0.1)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Server processes a test starts; killed at the end if still running."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_after_kill_9_a_restart_stores_the_cut_answer_as_interrupted_and_ends_it(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    first, base = _serve(tmp_path, LOCAL_LLM_DELAY_MS="40")
    processes.append(first)
    ws, _ = await open_session(base, "f-kill")
    await send(ws, {"type": "user.message", "content": "Tell me about tides."})
    seen = [await next_of(ws, "assistant.delta") for _ in range(3)]
    first.kill()
    first.wait()
    second, base = _serve(tmp_path)
    processes.append(second)
    session = await wait_for_summary(base, "f-kill", timeout=30)
    assert session["status"] == "ended"
    events = await stored_events(base, "f-kill")
    [answer] = [e for e in events if e["event_type"] == "assistant_message"]
    assert answer["metadata"]["finish_reason"] == "interrupted"
    again, started = await open_session(base, "f-kill", after_seq=seen[-1]["seq"])
    assert started["last_seq"] > seen[-1]["seq"]
    replayed = await receive(again)
    assert replayed["type"] == "assistant.done" and replayed["finish_reason"] == "interrupted"
    assert replayed["seq"] > seen[-1]["seq"]
    await again.close()


async def test_messages_waiting_in_the_queue_when_the_process_dies_are_kept_and_answered(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    first, base = _serve(tmp_path, LOCAL_LLM_DELAY_MS="200")  # answers of ~10 s
    processes.append(first)
    ws, _ = await open_session(base, "f-queue")
    await send(ws, {"type": "user.message", "content": "Tell me about tides."})
    await next_of(ws, "assistant.delta")
    waiting = ["And the moon?", "And the sun?"]
    for text in waiting:
        await send(ws, {"type": "user.message", "content": text, "on_busy": "enqueue"})
        assert (await next_of(ws, "user.message"))["queued"] is True

    async def all_stored() -> bool:
        events = await stored_events(base, "f-queue")
        assert not any(e["event_type"] == "assistant_message" for e in events)
        count: int = sum(e["event_type"] == "user_message" for e in events)
        return count == len(waiting) + 1

    await _poll(all_stored)  # stored while they wait (the first answer is still streaming)
    first.kill()
    first.wait()
    second, base = _serve(tmp_path)
    processes.append(second)
    await wait_for_summary(base, "f-queue", timeout=30)
    events = await stored_events(base, "f-queue")
    questions = [e for e in events if e["event_type"] == "user_message"]
    assert [q["content"] for q in questions] == ["Tell me about tides.", *waiting]
    reasons = {
        e["metadata"]["message_id"]: e["metadata"]["finish_reason"]
        for e in events
        if e["event_type"] == "assistant_message"
    }
    assert [reasons.get(q["metadata"]["message_id"]) for q in questions] == ["interrupted"] * 3


@pytest.mark.parametrize(("drain", "reason"), [("0.2", "cancelled"), ("30", "stop")])
async def test_sigterm_sends_each_answers_done_before_closing_with_1012(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]], drain: str, reason: str
) -> None:
    process, base = _serve(tmp_path, LOCAL_LLM_DELAY_MS="20", SHUTDOWN_DRAIN_SECONDS=drain)
    processes.append(process)
    ws, _ = await open_session(base, "f-term")
    await send(ws, {"type": "user.message", "content": "Tell me about tides."})
    await next_of(ws, "assistant.delta")
    process.send_signal(signal.SIGTERM)
    done = await next_of(ws, "assistant.done", timeout=30)
    assert done["finish_reason"] == reason
    with pytest.raises(ConnectionClosed):
        while True:
            await receive(ws, timeout=30)
    assert ws.close_code == 1012
    assert process.wait(30) in (0, -signal.SIGTERM)


async def test_a_client_that_never_reads_is_closed_with_1008_instead_of_growing_the_server(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = server_factory(settings.model_copy(update={"ws_outbox_frames": 20}))
    ws, _ = await open_session(server.url, "f-deaf")
    await send(ws, {"type": "user.message", "content": "Hi", "client_message_id": "once"})
    await next_of(ws, "assistant.done")
    reader = await connect(ws_url(server.url, "f-deaf") + "?mode=takeover", max_queue=1)
    big = json.dumps({"type": "user.message", "content": "x" * 7000, "client_message_id": "once"})
    sent = 3000  # each is echoed back as a 7 kB duplicate: far more than the socket buffers
    for _ in range(sent):
        await reader.send(big)
    received = 0
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(reader.recv(), 30)
            received += 1
    assert reader.close_code == 1008 and received < sent
    await ws.close()
