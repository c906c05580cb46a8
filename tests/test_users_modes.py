"""A signed-in user can neither observe, take over nor replay another user's session."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.background import BackgroundServer
from app.client import ws_url
from app.config import Settings
from tests.servers.jwks import hs256_token
from tests.test_users import ALICE, BOB, SERVICE_KEY, ServerFactory, offer, signed_in
from tests.wsclient import next_of, read_turn, receive, send, stored_events, wait_for_summary

pytestmark = pytest.mark.timeout(120)

# The three ways into a session besides writing to it; each must answer Bob as for no session.
INTRUSIONS: dict[str, dict[str, str]] = {
    "observe": {"mode": "observe"},
    "takeover": {"mode": "takeover"},
    "replay": {"after_seq": "0"},
}


@pytest.fixture
def server(settings: Settings, server_factory: ServerFactory) -> BackgroundServer:
    """A server with user sign-in whose answers come in slow pieces (to intrude mid-answer)."""
    return server_factory(signed_in(settings, local_llm_delay_ms=20))


async def join(
    base_url: str, session_id: str, token: str, query: dict[str, str]
) -> ClientConnection:
    """Connect with the token in the subprotocols and these query parameters."""
    url = f"{ws_url(base_url, session_id)}?{urlencode(query)}"
    return await connect(url, subprotocols=offer(token))


async def frames_until_closed(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every frame the server sends before it closes the connection."""
    frames: list[dict[str, Any]] = []
    with pytest.raises(ConnectionClosed):
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    return frames


async def assert_refused_as_unknown(base_url: str, session_id: str, query: dict[str, str]) -> None:
    """Bob's connection opens (answering realtime.v1), gets nothing, and closes with 4404."""
    intruder = await join(base_url, session_id, hs256_token(BOB), query)
    assert intruder.subprotocol == "realtime.v1"
    assert await frames_until_closed(intruder) == []
    assert intruder.close_code == 4404


@pytest.mark.parametrize("intrusion", INTRUSIONS)
async def test_another_user_gets_4404_for_a_live_session_mid_answer_and_its_writer_goes_on(
    server: BackgroundServer, intrusion: str
) -> None:
    session_id = f"alice-live-{intrusion}"
    alice = await join(server.url, session_id, hs256_token(ALICE), {})
    assert (await receive(alice))["type"] == "session.started"
    await send(alice, {"type": "user.message", "content": "tell me about the weather"})
    await next_of(alice, "assistant.delta")

    await assert_refused_as_unknown(server.url, session_id, INTRUSIONS[intrusion])

    # Alice's answer runs to its end, and she is still the writer (no 4410).
    assert (await read_turn(alice))[-1]["finish_reason"] == "stop"
    await send(alice, {"type": "user.message", "content": "again"})
    assert (await read_turn(alice))[-1]["finish_reason"] == "stop"

    # The same parameters are fine for the session's owner: the refusal was about Bob.
    # (Her replay takes over, as a write would be 4409 while her first connection writes.)
    query = INTRUSIONS[intrusion] | ({"mode": "takeover"} if intrusion == "replay" else {})
    own = await join(server.url, session_id, hs256_token(ALICE), query)
    started = await receive(own)
    assert started["type"] == "session.started" and started["user_id"] == ALICE
    if intrusion == "replay":
        echo = await next_of(own, "user.message")
        assert echo["content"] == "tell me about the weather" and echo["seq"] >= 1
    await own.close()
    await alice.close()


@pytest.mark.parametrize("intrusion", INTRUSIONS)
async def test_another_user_gets_4404_for_an_ended_session_and_nothing_is_stored(
    server: BackgroundServer, intrusion: str
) -> None:
    session_id = f"alice-ended-{intrusion}"
    alice = await join(server.url, session_id, hs256_token(ALICE), {})
    assert (await receive(alice))["type"] == "session.started"
    await send(alice, {"type": "user.message", "content": "my secret is 42"})
    await read_turn(alice)
    await alice.close()
    ended = await wait_for_summary(server.url, session_id, key=SERVICE_KEY)
    before = await stored_events(server.url, session_id, key=SERVICE_KEY)

    await assert_refused_as_unknown(server.url, session_id, INTRUSIONS[intrusion])

    # Bob's attempt neither resumed the session nor wrote an event.
    assert await stored_events(server.url, session_id, key=SERVICE_KEY) == before
    after = await wait_for_summary(server.url, session_id, key=SERVICE_KEY)
    assert after["status"] == "ended" and after["end_time"] == ended["end_time"]

    # The service's key may replay and observe any user's session.
    service = await join(server.url, session_id, SERVICE_KEY, {"mode": "observe", "after_seq": "0"})
    assert (await receive(service))["user_id"] == ALICE
    assert (await next_of(service, "user.message"))["content"] == "my secret is 42"
    await service.close()
