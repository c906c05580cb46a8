"""What a client can make the server hold: REST bodies up to 1 MiB, WebSocket frames up to
`ws_max_size`, no permessage-deflate; through a real uvicorn server on each backend."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.api.limits import MAX_BODY_BYTES
from app.background import BackgroundServer
from app.config import Settings
from app.serving import ws_max_size
from tests.wsclient import next_of, open_session, receive, send

CHUNK = 64 * 1024


async def _raw_exchange(base_url: str, head: bytes, chunks: int, chunk: bytes) -> tuple[int, int]:
    """Send a request head, then up to `chunks` body pieces until the server answers.

    Returns the answer's status and how many body bytes had been written when it came.
    """
    address = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    sent = 0
    try:
        writer.write(head)
        answer = asyncio.ensure_future(reader.readline())
        for _ in range(chunks):
            if answer.done():
                break
            writer.write(chunk)
            sent += len(chunk)
            # The server stops reading once it refused: a full socket buffer is an answer too.
            drained = asyncio.ensure_future(writer.drain())
            await asyncio.wait({answer, drained}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
            drained.cancel()
        status_line = await asyncio.wait_for(answer, 10)
        return int(status_line.split()[1]), sent
    finally:
        writer.close()


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_a_declared_body_over_1_mib_is_refused_with_413_before_it_is_read(
    live_server: BackgroundServer,
) -> None:
    head = _head("/events", {"Content-Length": str(100 * 1024 * 1024)})
    status, sent = await _raw_exchange(live_server.url, head, chunks=0, chunk=b"")
    assert (status, sent) == (413, 0)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        answer = await http.post("/sessions", content=b"{" + b" " * MAX_BODY_BYTES + b"}")
    assert answer.status_code == 413
    assert answer.json() == {"detail": "request body over 1048576 bytes (1 MiB)"}


@pytest.mark.parametrize("path", ["/events", "/sessions"])
async def test_a_chunked_body_over_1_mib_is_refused_with_413_as_it_streams(
    live_server: BackgroundServer, path: str
) -> None:
    head = _head(path, {"Transfer-Encoding": "chunked"})
    piece = b"%x\r\n%s\r\n" % (CHUNK, b" " * CHUNK)
    status, sent = await _raw_exchange(live_server.url, head, chunks=1600, chunk=piece)
    assert status == 413
    # Refused as soon as the body crossed 1 MiB, not after the 100 MiB on offer.
    assert sent < 8 * MAX_BODY_BYTES


async def test_a_body_of_1_mib_is_read_and_answered_on_its_merits(
    live_server: BackgroundServer,
) -> None:
    envelope = json.dumps({"session_id": "big", "metadata": {"pad": ""}}).encode()
    body = envelope.replace(b'""', b'"' + b"x" * (MAX_BODY_BYTES - len(envelope)) + b'"')
    assert len(body) == MAX_BODY_BYTES
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        answer = await http.post("/sessions", content=body)
    # Stored, or refused for what it says (a size rule on metadata), never for its length.
    assert answer.status_code in (201, 422), answer.text


def test_ws_max_size_leaves_room_for_a_longest_message_escaped_in_json() -> None:
    longest = json.dumps({"type": "user.message", "content": "\U0001f600" * 8000})
    assert len(longest.encode()) < ws_max_size(8000) < 2 * len(longest.encode())


async def test_a_longest_message_of_escaped_astral_characters_is_accepted(
    settings: Settings, server_factory: Any
) -> None:
    server = server_factory(settings.model_copy(update={"max_message_chars": 200}))
    ws, _ = await open_session(server.url, "astral")
    frame = {"type": "user.message", "content": "\U0001f600" * 200, "client_message_id": "é" * 128}
    await send(ws, json.dumps(frame, ensure_ascii=True))
    echo = await next_of(ws, "user.message")
    assert echo["content"] == "\U0001f600" * 200
    await ws.close()


async def test_a_frame_over_ws_max_size_closes_the_connection_with_1009(
    settings: Settings, server_factory: Any
) -> None:
    server = server_factory(settings.model_copy(update={"max_message_chars": 100}))
    ws, _ = await open_session(server.url, "too-big")
    # Over MAX_MESSAGE_CHARS but within ws_max_size: an error frame, the socket stays open.
    await send(ws, "x" * 101)
    assert (await receive(ws))["code"] == "message_too_large"
    await send(ws, {"type": "ping"})
    assert (await receive(ws))["type"] == "pong"
    await send(ws, "x" * (ws_max_size(100) + 1))
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_permessage_deflate_is_not_negotiated(live_server: BackgroundServer) -> None:
    url = live_server.url.replace("http", "ws", 1) + "/ws/session/plain"
    async with connect(url, compression="deflate") as ws:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        assert (await receive(ws))["type"] == "session.started"


async def test_permessage_deflate_can_be_turned_on(settings: Settings, server_factory: Any) -> None:
    server = server_factory(settings.model_copy(update={"ws_per_message_deflate": True}))
    url = server.url.replace("http", "ws", 1) + "/ws/session/deflated"
    async with connect(url, compression="deflate") as ws:
        assert ws.response is not None
        assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
        assert (await receive(ws))["type"] == "session.started"
