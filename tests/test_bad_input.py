"""Values that cannot be stored as sent are refused with 4xx before the database, on both
backends, through the real server; nothing is stored and the service goes on working."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.background import BackgroundServer
from app.client import ws_url
from app.config import Settings
from app.store import build_store
from app.validation import MAX_METADATA_BYTES, MAX_METADATA_DEPTH
from tests.wsclient import ask, open_session, receive, send, stored_events

SURROGATES = ["\\ud800", "x\\udfffy", "\\udc00\\ud800"]
NUL = "a\\u0000b"
# JSON text as a client can send it: the escapes stay escapes on the wire.
BAD_STRINGS = [*SURROGATES, NUL]
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]
DRIVER_WORDS = ("asyncpg", "sqlite3", "Error:", "codec", "invalid byte", "Traceback")


@pytest.fixture
async def http(live_server: BackgroundServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real server."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=20) as client:
        yield client


async def _post(http: httpx.AsyncClient, path: str, body: str) -> httpx.Response:
    return await http.post(path, content=body, headers={"content-type": "application/json"})


def _assert_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]  # the answer is JSON, whatever the input was
    assert detail and not any(word in answer.text for word in DRIVER_WORDS), answer.text


async def _assert_nothing_stored(http: httpx.AsyncClient, session_ids: list[str]) -> None:
    listed = await http.get("/sessions")
    assert listed.status_code == 200 and [s["session_id"] for s in listed.json()] == session_ids
    for session_id in session_ids:
        events = await http.get(f"/sessions/{session_id}/events")
        assert events.status_code == 200 and events.json() == []


def _session_bodies(bad: str) -> list[str]:
    return [
        f'{{"session_id": "{bad}"}}',
        f'{{"user_id": "{bad}"}}',
        f'{{"metadata": {{"k": "{bad}"}}}}',
        f'{{"metadata": {{"{bad}": 1}}}}',
        f'{{"metadata": {{"list": [1, {{"deep": "{bad}"}}]}}}}',
    ]


def _event_bodies(bad: str) -> list[str]:
    head = '"session_id": "s", "event_type": "user_message"'
    return [
        f'{{"session_id": "{bad}", "event_type": "user_message"}}',
        f'{{{head}, "content": "{bad}"}}',
        f'{{{head}, "role": "{bad}"}}',
        f'{{"session_id": "s", "event_type": "{bad}"}}',
        f'{{{head}, "metadata": {{"k": "{bad}"}}}}',
        f'{{{head}, "metadata": {{"{bad}": true}}}}',
        f'{{{head}, "{bad}": 1}}',
    ]


async def test_lone_surrogates_and_nul_in_any_string_field_are_422(
    http: httpx.AsyncClient,
) -> None:
    assert (await http.post("/sessions", json={"session_id": "s"})).status_code == 201
    for bad in BAD_STRINGS:
        for body in _session_bodies(bad):
            _assert_refused(await _post(http, "/sessions", body))
        for body in _event_bodies(bad):
            _assert_refused(await _post(http, "/events", body))
    await _assert_nothing_stored(http, ["s"])


async def test_non_finite_numbers_in_metadata_are_422(http: httpx.AsyncClient) -> None:
    assert (await http.post("/sessions", json={"session_id": "s"})).status_code == 201
    for number in NON_FINITE:
        _assert_refused(await _post(http, "/sessions", f'{{"metadata": {{"x": {number}}}}}'))
        body = f'{{"session_id": "s", "event_type": "error", "metadata": {{"x": [{number}]}}}}'
        _assert_refused(await _post(http, "/events", body))
    await _assert_nothing_stored(http, ["s"])


async def test_metadata_is_bounded_in_size_depth_and_integer_range(
    http: httpx.AsyncClient,
) -> None:
    for metadata in (
        {"big": "x" * MAX_METADATA_BYTES},
        _nested(MAX_METADATA_DEPTH + 1),
        {"n": 2**63},
        {"n": -(2**63) - 1},
        {"n": [10**30]},
    ):
        _assert_refused(await http.post("/sessions", json={"metadata": metadata}))
    await _assert_nothing_stored(http, [])
    edge = {"n": [2**63 - 1, -(2**63)], "text": "x" * 1000, **_nested(MAX_METADATA_DEPTH)}
    created = await http.post("/sessions", json={"session_id": "edge", "metadata": edge})
    assert created.status_code == 201
    assert (await http.get("/sessions/edge")).json()["metadata"] == edge


def _nested(levels: int) -> dict[str, Any]:
    """Metadata of `levels` objects and arrays, one inside the other (the object counts)."""
    inner: Any = "leaf"
    for _ in range(levels - 1):
        inner = [inner]
    return {"deep": inner}


@pytest.mark.parametrize(
    "query",
    [
        "/sessions/s/events?after_id=9223372036854775808",
        "/sessions/s/events?after_id=18446744073709551616",
        "/sessions/s/events?after_id=1" + "0" * 40,
        "/sessions/s/events?limit=9223372036854775808",
        "/sessions?offset=9223372036854775808",
        "/sessions?limit=-9223372036854775809",
        "/sessions?user_id=%00",
        "/sessions?user_id=a%00b",
    ],
)
async def test_out_of_range_integers_and_nul_in_parameters_are_422(
    http: httpx.AsyncClient, query: str
) -> None:
    assert (await http.post("/sessions", json={"session_id": "s"})).status_code == 201
    _assert_refused(await http.get(query))
    at_the_edge = await http.get("/sessions/s/events?after_id=9223372036854775807")
    assert at_the_edge.status_code == 200 and at_the_edge.json() == []


async def test_a_websocket_message_that_cannot_be_stored_is_an_error_frame(
    live_server: BackgroundServer,
) -> None:
    ws, _ = await open_session(live_server.url, "ws-bad")
    for frame in (
        '{"type": "user.message", "content": "a\\u0000b"}',
        '{"type": "user.message", "content": "\\ud800"}',
        '{"type": "user.message", "content": "ok", "client_message_id": "\\udfff"}',
        '{"type": "user.message", "content": "ok", "client_message_id": "id\\u0000"}',
        "plain text with a NUL \x00 in it",
    ):
        await send(ws, frame)
        error = await receive(ws)
        assert error["type"] == "error" and error["code"] == "invalid_message", error
        assert "seq" not in error and "message_id" not in error
    done = (await ask(ws, "still here?"))[-1]
    assert done["type"] == "assistant.done" and done["finish_reason"] == "stop"
    await ws.close()
    contents = [e["content"] for e in await stored_events(live_server.url, "ws-bad")]
    assert "still here?" in contents and not any("\x00" in c for c in contents)


@pytest.mark.parametrize("user_id", ["%00", "a%00b"])
async def test_a_handshake_with_a_nul_user_id_is_refused(
    live_server: BackgroundServer, http: httpx.AsyncClient, user_id: str
) -> None:
    url = ws_url(live_server.url, "ws-nul-user") + f"?user_id={user_id}"
    with pytest.raises(InvalidStatus) as refused:
        await connect(url)
    assert refused.value.response.status_code == 403
    assert (await http.get("/sessions")).json() == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_rows_stored_before_validation_still_list(
    settings: Settings, http: httpx.AsyncClient
) -> None:
    """SQLite once stored lone surrogates and NaN in JSON as sent; reading them must not fail."""
    store = build_store(settings)  # past the API, as the old code wrote them
    await store.open()
    try:
        await store.create_session(
            session_id="old", user_id="u", metadata={"k": "\ud800", "n": float("nan")}
        )
    finally:
        await store.close()
    listed = await http.get("/sessions")
    assert listed.status_code == 200
    assert listed.json()[0]["metadata"] == {"k": "\ufffd", "n": None}
    assert json.loads(listed.content)[0]["session_id"] == "old"
