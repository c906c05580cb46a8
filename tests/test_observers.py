"""Several connections to one session: observers, takeover (4410), 4409 and 4404."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.background import BackgroundServer
from app.client import ws_url
from app.config import Settings
from tests.wsclient import ask, next_of, of_type, open_session, read_turn, receive, send

ServerFactory = Callable[[Settings], BackgroundServer]


@pytest.fixture
def slow(settings: Settings, server_factory: ServerFactory) -> BackgroundServer:
    """A server whose answers take a few seconds."""
    return server_factory(settings.model_copy(update={"local_llm_delay_ms": 40}))


async def _closed_with(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        while True:
            await ws.recv()
    return ws.close_code


async def test_observers_see_everything_live_and_cannot_send(
    live_server: BackgroundServer,
) -> None:
    writer, _ = await open_session(live_server.url, "o-watch")
    watchers = [(await open_session(live_server.url, "o-watch", mode="observe")) for _ in range(3)]
    for _ws, started in watchers:
        assert started["mode"] == "observe" and started["session_id"] == "o-watch"
    sent = await ask(writer, "What time is it?")
    for ws, _ in watchers:
        seen = await read_turn(ws)
        assert [f["seq"] for f in seen] == [f["seq"] for f in sent]
        assert seen[0]["type"] == "user.message" and seen[0]["content"] == "What time is it?"
    observer = watchers[0][0]
    for frame in ({"type": "user.message", "content": "hi"}, {"type": "cancel"}):
        await send(observer, frame)
        assert (await receive(observer))["code"] == "read_only"
    for ws, _ in watchers:
        await ws.close()
    await send(writer, {"type": "ping"})
    assert await receive(writer) == {"type": "pong"}
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        assert (await http.get("/sessions/o-watch")).json()["status"] == "active"
    await writer.close()


async def test_an_observer_leaving_never_ends_the_session_nor_its_answer(
    slow: BackgroundServer,
) -> None:
    writer, _ = await open_session(slow.url, "o-leave")
    observer, _ = await open_session(slow.url, "o-leave", mode="observe")
    await send(writer, {"type": "user.message", "content": "Tell me about tides."})
    await next_of(observer, "assistant.delta")
    observer.transport.abort()
    frames = await read_turn(writer, timeout=30)
    assert frames[-1]["finish_reason"] == "stop"
    await writer.close()


async def test_observing_an_unknown_session_is_closed_with_4404(
    live_server: BackgroundServer,
) -> None:
    ws = await connect(ws_url(live_server.url, "o-nobody") + "?mode=observe")
    assert await _closed_with(ws) == 4404


async def test_takeover_closes_the_old_writer_with_4410_and_the_answer_streams_on(
    slow: BackgroundServer,
) -> None:
    old, _ = await open_session(slow.url, "o-take")
    await send(old, {"type": "user.message", "content": "Tell me about tides."})
    first = await next_of(old, "assistant.delta")
    new, started = await open_session(slow.url, "o-take", mode="takeover", after_seq=first["seq"])
    assert started["mode"] == "write"
    assert await _closed_with(old) == 4410
    rest = await read_turn(new, timeout=30)
    done = rest[-1]
    assert done["finish_reason"] == "stop"
    streamed = first["delta"] + "".join(d["delta"] for d in of_type(rest, "assistant.delta"))
    assert streamed == done["content"]
    second = await ask(new, "Thanks!")
    assert second[-1]["finish_reason"] == "stop"
    await new.close()


async def test_a_second_writer_is_refused_with_4409_but_an_observer_is_not(
    live_server: BackgroundServer,
) -> None:
    first, _ = await open_session(live_server.url, "o-twice")
    second = await connect(ws_url(live_server.url, "o-twice"))
    assert await _closed_with(second) == 4409
    watcher, started = await open_session(live_server.url, "o-twice", mode="observe")
    assert started["mode"] == "observe"
    await watcher.close()
    await first.close()


async def test_a_bad_mode_is_refused_at_the_handshake(live_server: BackgroundServer) -> None:
    from websockets.exceptions import InvalidStatus

    for query in ("mode=spy", "on_disconnect=later", "after_seq=-1", "after_seq=x"):
        with pytest.raises(InvalidStatus):
            await connect(ws_url(live_server.url, "o-bad") + "?" + query)
