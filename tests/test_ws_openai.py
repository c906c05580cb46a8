"""The WebSocket contract with the `openai` provider: the real SDK against the SSE stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from websockets.asyncio.client import ClientConnection

from app.background import BackgroundServer
from app.config import Settings
from tests.servers.openai_sse import USAGE, OpenAIStandIn
from tests.wsclient import (
    ask,
    next_of,
    of_type,
    open_session,
    receive,
    send,
    stored_events,
    wait_for_summary,
)

ServerFactory = Callable[[Settings], BackgroundServer]


@pytest.fixture
def openai_app(
    settings: Settings, openai_server: OpenAIStandIn, server_factory: ServerFactory
) -> BackgroundServer:
    """A real server whose model is the OpenAI-compatible stand-in."""
    return server_factory(
        settings.model_copy(
            update={
                "llm_provider": "openai",
                "openai_base_url": openai_server.base_url,
                "llm_model": "stand-in-model",
                "llm_max_retries": 0,
                "llm_timeout_seconds": 10,
            }
        )
    )


async def test_streamed_answer_carries_usage_and_is_stored(
    openai_app: BackgroundServer, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_text("Hel", "lo ", "there", "!")
    ws, _ = await open_session(openai_app.url, "oa-text")
    frames = await ask(ws, "Hi")
    # Deltas arrive in order; ones that queue behind the socket may leave merged.
    assert "".join(f["delta"] for f in of_type(frames, "assistant.delta")) == "Hello there!"
    assert frames[-1]["content"] == "Hello there!" and frames[-1]["usage"] == USAGE
    await ws.close()
    [answer] = [
        e
        for e in await stored_events(openai_app.url, "oa-text")
        if e["event_type"] == "assistant_message"
    ]
    assert (
        answer["metadata"]["provider"] == "openai"
        and answer["metadata"]["model"] == "stand-in-model"
    )
    assert answer["metadata"]["usage"] == USAGE


async def test_tool_calls_run_over_several_rounds_and_results_reach_the_model(
    openai_app: BackgroundServer, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_tool_calls(("call_a", "check_inventory", '{"item": "mice"}'))
    openai_server.answer_tool_calls(("call_b", "get_current_time", '{"timezone": "Asia/Tokyo"}'))
    openai_server.answer_text("We have mice, ", "and it is late in Tokyo.")
    ws, _ = await open_session(openai_app.url, "oa-tools")
    frames = await ask(ws, "Mice in stock? And the time in Tokyo?")
    calls = of_type(frames, "tool.call")
    results = of_type(frames, "tool.result")
    assert [c["name"] for c in calls] == ["check_inventory", "get_current_time"]
    assert calls[1]["arguments"] == {"timezone": "Asia/Tokyo"}
    assert (
        results[0]["result"]["found"] is True and results[1]["result"]["timezone"] == "Asia/Tokyo"
    )
    assert frames[-1]["content"] == "We have mice, and it is late in Tokyo."
    third = openai_server.requests[2].body["messages"]
    tool_messages = [m for m in third if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == ["call_a", "call_b"]
    assert frames[-1]["usage"]["total_tokens"] == 3 * USAGE["total_tokens"]
    await ws.close()


async def test_a_model_failure_is_an_llm_error_and_the_socket_stays_usable(
    openai_app: BackgroundServer, openai_server: OpenAIStandIn
) -> None:
    openai_server.fail(500, "the model is on fire")
    openai_server.break_off("Half an ans")
    openai_server.answer_text("Recovered.")
    ws, _ = await open_session(openai_app.url, "oa-fail")
    for expected_content in ("", "Half an ans"):
        frames = await ask(ws, "Hello?")
        [error] = of_type(frames, "error")
        assert error["code"] == "llm_error" and error["message"]
        assert frames[-1]["finish_reason"] == "error"
        assert frames[-1]["content"] == expected_content
    assert (await ask(ws, "Again?"))[-1]["content"] == "Recovered."
    await ws.close()
    reasons = [
        e["metadata"]["finish_reason"]
        for e in await stored_events(openai_app.url, "oa-fail")
        if e["event_type"] == "assistant_message"
    ]
    assert reasons == ["error", "error", "stop"]


async def _long_answer_started(
    app: BackgroundServer, model: OpenAIStandIn, session_id: str
) -> ClientConnection:
    """A session whose model is in the middle of a long, slow answer."""
    model.answer_slowly("word ", count=500, interval=0.02)
    ws, _ = await open_session(app.url, session_id)
    await send(ws, {"type": "user.message", "content": "Talk for a long time."})
    await next_of(ws, "assistant.delta")
    return ws


async def test_a_vanishing_client_closes_the_model_stream_at_once(
    openai_app: BackgroundServer, openai_server: OpenAIStandIn
) -> None:
    ws = await _long_answer_started(openai_app, openai_server, "oa-vanish")
    ws.transport.abort()
    assert await asyncio.to_thread(openai_server.wait_for_disconnect, 5)


async def test_cancel_closes_the_model_stream(
    openai_app: BackgroundServer, openai_server: OpenAIStandIn
) -> None:
    ws = await _long_answer_started(openai_app, openai_server, "oa-cancel")
    await send(ws, {"type": "cancel"})
    while (frame := await receive(ws))["type"] != "assistant.done":
        pass
    assert frame["finish_reason"] == "cancelled"
    assert await asyncio.to_thread(openai_server.wait_for_disconnect, 5)
    await ws.close()


async def test_the_model_writes_the_summary_and_sees_the_resumed_history(
    openai_app: BackgroundServer, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_text("Nice to meet you, Ann.")
    ws, _ = await open_session(openai_app.url, "oa-summary", user_id="ann")
    await ask(ws, "I am Ann.")
    openai_server.answer_text("Ann introduced herself; the assistant greeted her.")
    await ws.close()
    session = await wait_for_summary(openai_app.url, "oa-summary")
    assert session["summary"] == "Ann introduced herself; the assistant greeted her."
    openai_server.answer_text("You are Ann.")
    again, started = await open_session(openai_app.url, "oa-summary", user_id="ann")
    assert started["resumed"] is True and started["history"] == 2
    await ask(again, "Who am I?")
    sent = [(m["role"], m["content"]) for m in openai_server.last_body["messages"][1:]]
    assert sent == [
        ("user", "I am Ann."),
        ("assistant", "Nice to meet you, Ann."),
        ("user", "Who am I?"),
    ]
    await again.close()
