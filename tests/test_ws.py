"""The contract's WebSocket section, end to end: real uvicorn, the `websockets` client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.background import BackgroundServer
from app.client import ws_url
from app.config import Settings
from app.main import create_app
from app.store.sql import SqlStore
from tests.wsclient import (
    ask,
    next_of,
    of_type,
    open_session,
    read_turn,
    receive,
    send,
    stored_events,
    wait_for_summary,
)

ServerFactory = Callable[[Settings], BackgroundServer]


async def test_new_session_starts_and_streams_an_answer(live_server: BackgroundServer) -> None:
    ws, started = await open_session(live_server.url, "s-new", user_id="ann")
    assert started == {
        "type": "session.started",
        "session_id": "s-new",
        "user_id": "ann",
        "resumed": False,
        "history": 0,
        "last_seq": 0,
        "mode": "write",
    }
    frames = await ask(ws, "Hello! Can you tell me about your return policy?")
    deltas = of_type(frames, "assistant.delta")
    done = frames[-1]
    assert len(deltas) >= 1 and done["finish_reason"] == "stop"
    assert "".join(d["delta"] for d in deltas) == done["content"]
    assert {d["message_id"] for d in deltas} == {done["message_id"]}
    assert (
        done["content"].strip()
        and done["content"] != "Hello! Can you tell me about your return policy?"
    )
    await ws.close()


async def test_time_question_calls_the_time_tool(live_server: BackgroundServer) -> None:
    ws, _ = await open_session(live_server.url, "s-time")
    frames = await ask(ws, "What time is it?")
    [call] = of_type(frames, "tool.call")
    [result] = of_type(frames, "tool.result")
    assert call["name"] == "get_current_time" and isinstance(call["arguments"], dict)
    assert result["call_id"] == call["call_id"] and result["name"] == "get_current_time"
    assert frames.index(call) < frames.index(result) < len(frames) - 1
    assert frames[-1]["finish_reason"] == "stop" and frames[-1]["content"]
    await ws.close()
    kinds = [e["event_type"] for e in await stored_events(live_server.url, "s-time")]
    assert kinds[:5] == [
        "session_start",
        "user_message",
        "tool_call",
        "tool_result",
        "assistant_message",
    ]


async def test_stock_question_calls_check_inventory(live_server: BackgroundServer) -> None:
    ws, _ = await open_session(live_server.url, "s-stock")
    frames = await ask(ws, "Do we have any mice in stock?")
    [call] = of_type(frames, "tool.call")
    assert call["name"] == "check_inventory" and "mice" in call["arguments"]["item"].lower()
    [result] = of_type(frames, "tool.result")
    assert isinstance(result["result"], dict)
    await ws.close()


def shout(text: str, times: int = 1) -> dict[str, str]:
    """Shout a text back (a tool the local provider has no rule for)."""
    return {"shouted": " ".join([text.upper()] * times)}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_local_provider_calls_a_tool_registered_in_the_apps_registry(
    settings: Settings,
) -> None:
    app = create_app(settings)
    with BackgroundServer(app) as server:
        # The registry the sessions use: a tool added to it is offered from the next turn on.
        app.state.tools.register(shout)
        ws, _ = await open_session(server.url, "s-custom-tool")
        frames = await ask(ws, 'Please call the shout tool with {"text": "hi", "times": 2}.')
        [call] = of_type(frames, "tool.call")
        [result] = of_type(frames, "tool.result")
        assert (call["name"], call["arguments"]) == ("shout", {"text": "hi", "times": 2})
        assert result["result"] == {"shouted": "HI HI"}
        done = frames[-1]
        assert done["finish_reason"] == "stop"
        assert done["content"] == 'The shout tool returned: {"shouted": "HI HI"}.'
        frames = await ask(ws, "call shout")
        [call] = of_type(frames, "tool.call")
        assert call["arguments"] == {"text": "example"}
        assert of_type(frames, "tool.result")[0]["result"] == {"shouted": "EXAMPLE"}
        await ws.close()


async def test_ping_gets_pong(live_server: BackgroundServer) -> None:
    ws, _ = await open_session(live_server.url, "s-ping")
    await send(ws, {"type": "ping"})
    assert await receive(ws) == {"type": "pong"}
    await ws.close()


async def test_plain_text_frame_is_a_user_message(live_server: BackgroundServer) -> None:
    ws, _ = await open_session(live_server.url, "s-plain")
    await send(ws, "just words, no JSON")
    frames = await read_turn(ws)
    assert frames[-1]["finish_reason"] == "stop"
    await send(ws, '["a JSON list is not a frame"]')
    assert (await read_turn(ws))[-1]["content"]
    await ws.close()
    users = [
        e["content"]
        for e in await stored_events(live_server.url, "s-plain")
        if e["event_type"] == "user_message"
    ]
    assert users == ["just words, no JSON", '["a JSON list is not a frame"]']


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "user.message", "content": 42}, "invalid_message"),
        ({"type": "user.message"}, "invalid_message"),
        ({"type": "user.message", "content": "   "}, "invalid_message"),
        ({"type": "launch.rockets"}, "invalid_message"),
        ({"type": "user.message", "content": "x" * 8001}, "message_too_large"),
        ("y" * 9000, "message_too_large"),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays(
    live_server: BackgroundServer,
    frame: dict[str, object] | str,
    code: str,
) -> None:
    ws, _ = await open_session(live_server.url, "s-bad")
    await send(ws, frame)
    error = await receive(ws)
    assert error["type"] == "error" and error["code"] == code and error["message"]
    await send(ws, {"type": "ping"})
    assert await receive(ws) == {"type": "pong"}
    await ws.close()


async def test_binary_frame_gets_an_error(live_server: BackgroundServer) -> None:
    ws, _ = await open_session(live_server.url, "s-bin")
    await ws.send(b"\x00\x01")
    assert (await receive(ws))["code"] == "invalid_message"
    assert (await ask(ws, "still here?"))[-1]["finish_reason"] == "stop"
    await ws.close()


@pytest.mark.parametrize("bad_id", ["has%20space", "a" * 129, "semi;colon", "slash%2Fid"])
async def test_malformed_session_id_is_refused_at_handshake(
    live_server: BackgroundServer, bad_id: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(ws_url(live_server.url, bad_id))
    assert refused.value.response.status_code == 403


async def test_token_is_required_when_api_key_is_set(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = server_factory(settings.model_copy(update={"api_key": SecretStr("k-123")}))
    for token in (None, "wrong"):
        with pytest.raises(InvalidStatus):
            await connect(ws_url(server.url, "s-auth", api_key=token))
    ws, started = await open_session(server.url, "s-auth", token="k-123")
    assert started["session_id"] == "s-auth"
    await ws.close()


async def test_second_live_connection_is_closed_with_4409(live_server: BackgroundServer) -> None:
    first, _ = await open_session(live_server.url, "s-twice")
    second = await connect(ws_url(live_server.url, "s-twice"))
    with pytest.raises(ConnectionClosed):
        await second.recv()
    assert second.close_code == 4409
    await send(first, {"type": "ping"})
    assert await receive(first) == {"type": "pong"}
    await first.close()


async def test_resumed_session_sees_its_history(live_server: BackgroundServer) -> None:
    ws, _ = await open_session(live_server.url, "s-resume", user_id="ann")
    await ask(ws, "My name is Ann and I like llamas.")
    await ask(ws, "Thanks!")
    await ws.close()
    await wait_for_summary(live_server.url, "s-resume")
    again, started = await open_session(live_server.url, "s-resume", user_id="ann")
    assert started["resumed"] is True and started["history"] == 4
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        assert (await http.get("/sessions/s-resume")).json()["status"] == "active"
    assert (await ask(again, "What did I tell you?"))[-1]["finish_reason"] == "stop"
    await again.close()


async def slow_server(settings: Settings, server_factory: ServerFactory) -> BackgroundServer:
    """A server whose local model paces its words, so an answer lasts a few seconds."""
    return server_factory(settings.model_copy(update={"local_llm_delay_ms": 60}))


async def test_cancel_stops_the_answer_and_stores_it(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = await slow_server(settings, server_factory)
    ws, _ = await open_session(server.url, "s-cancel")
    await send(ws, {"type": "user.message", "content": "Tell me a long story about the sea."})
    first = await next_of(ws, "assistant.delta")
    await send(ws, {"type": "cancel"})
    frames = [first, *await read_turn(ws)]
    done = frames[-1]
    assert done["finish_reason"] == "cancelled"
    assert done["content"] == "".join(f["delta"] for f in of_type(frames, "assistant.delta"))
    assert (await ask(ws, "Are you still there?"))[-1]["finish_reason"] == "stop"
    await ws.close()
    answers = [
        e
        for e in await stored_events(server.url, "s-cancel")
        if e["event_type"] == "assistant_message"
    ]
    assert answers[0]["metadata"]["finish_reason"] == "cancelled"
    assert answers[0]["content"] == done["content"]


async def test_message_during_an_answer_gets_busy_and_the_answer_goes_on(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = await slow_server(settings, server_factory)
    ws, _ = await open_session(server.url, "s-busy")
    await send(ws, {"type": "user.message", "content": "Explain how tides work."})
    await next_of(ws, "assistant.delta")
    await send(ws, {"type": "user.message", "content": "And the moon?"})
    frames = await read_turn(ws)
    [busy] = of_type(frames, "error")
    assert busy["code"] == "busy"
    assert frames[-1]["finish_reason"] == "stop"
    await ws.close()
    users = [
        e for e in await stored_events(server.url, "s-busy") if e["event_type"] == "user_message"
    ]
    assert [u["content"] for u in users] == ["Explain how tides work."]


async def test_abrupt_disconnect_mid_answer_keeps_messages_and_writes_summary(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = await slow_server(settings, server_factory)
    ws, _ = await open_session(server.url, "s-abrupt", user_id="zed")
    await send(ws, {"type": "user.message", "content": "Describe the history of bicycles."})
    await next_of(ws, "assistant.delta")
    ws.transport.abort()  # no close frame: the client just vanishes
    session = await wait_for_summary(server.url, "s-abrupt")
    assert session["end_time"] and session["duration_seconds"] is not None
    events = await stored_events(server.url, "s-abrupt")
    by_type = {e["event_type"]: e for e in events}
    assert by_type["user_message"]["content"] == "Describe the history of bicycles."
    assert by_type["assistant_message"]["metadata"]["finish_reason"] == "cancelled"
    assert by_type["session_end"]
    # The stream was stopped at once: far fewer words stored than a full answer has.
    assert len(by_type["assistant_message"]["content"].split()) < 20


async def test_clean_close_ends_the_session_with_a_summary(live_server: BackgroundServer) -> None:
    ws, _ = await open_session(live_server.url, "s-end", user_id="ann")
    await ask(ws, "What time is it?")
    await ws.close()
    session = await wait_for_summary(live_server.url, "s-end")
    assert "get_current_time" in session["summary"]
    metadata = [
        e
        for e in await stored_events(live_server.url, "s-end")
        if e["event_type"] == "assistant_message"
    ][0]["metadata"]
    assert metadata["provider"] == "local" and metadata["finish_reason"] == "stop"
    assert metadata["ttft_ms"] is not None and metadata["total_ms"] >= metadata["ttft_ms"]


async def test_frames_are_json_objects_with_a_type(live_server: BackgroundServer) -> None:
    ws, _ = await open_session(live_server.url, "s-json")
    await send(ws, {"type": "user.message", "content": "Do we have keyboards in stock?"})
    for frame in await read_turn(ws):
        assert isinstance(frame, dict) and isinstance(frame["type"], str)
    await ws.close()


async def test_shutdown_waits_for_the_summaries_still_being_written(settings: Settings) -> None:
    server = BackgroundServer(settings).start()
    try:
        ws, _ = await open_session(server.url, "s-shutdown", user_id="ann")
        await ask(ws, "Do we have any keyboards in stock?")
        await ws.close()
    finally:
        await asyncio.to_thread(server.stop)
    store = SqlStore(settings.sql_url)
    await store.open()
    try:
        session = await store.get_session("s-shutdown")
    finally:
        await store.close()
    assert session.status == "ended" and session.summary and "check_inventory" in session.summary
