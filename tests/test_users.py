"""Users signed in with their own tokens see, change and converse in their own sessions only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from app.background import BackgroundServer
from app.client import ws_url
from app.config import Settings
from tests.servers.jwks import ISSUER, JWT_SECRET, JwksServer, hs256_token, signed_token
from tests.wsclient import ask, receive

pytestmark = pytest.mark.timeout(120)
ServerFactory = Callable[[Settings], BackgroundServer]
ALICE = "00000000-0000-4000-8000-00000000a11c"
BOB = "00000000-0000-4000-8000-000000000b0b"
SERVICE_KEY = "the-service-key"


def signed_in(settings: Settings, **extra: Any) -> Settings:
    """The settings with user sign-in (the test secret and issuer) and the service's key."""
    values: dict[str, Any] = {
        "auth_jwt_secret": SecretStr(JWT_SECRET),
        "auth_jwt_issuer": ISSUER,
        "api_key": SecretStr(SERVICE_KEY),
        **extra,
    }
    return settings.model_copy(update=values)


@pytest.fixture
def server(settings: Settings, server_factory: ServerFactory) -> BackgroundServer:
    """A server on the backend under test where users sign in with HS256 tokens."""
    return server_factory(signed_in(settings))


def as_user(base_url: str, token: str) -> httpx.AsyncClient:
    """A REST client sending this bearer token."""
    return httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"})


def offer(token: str) -> list[Subprotocol]:
    """The subprotocols a browser offers: the protocol, then the token."""
    return [Subprotocol("realtime.v1"), Subprotocol(f"bearer.{token}")]


async def open_as(
    base_url: str, session_id: str, token: str, **query: str
) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect with the token in the subprotocols, as a browser does; return `session.started`."""
    url = ws_url(base_url, session_id, user_id=query.get("user_id"))
    ws = await connect(url, subprotocols=offer(token))
    started = await receive(ws)
    assert started["type"] == "session.started", started
    return ws, started


async def test_each_user_lists_only_their_own_sessions(server: BackgroundServer) -> None:
    async with (
        as_user(server.url, hs256_token(ALICE)) as alice,
        as_user(server.url, hs256_token(BOB)) as bob,
        as_user(server.url, SERVICE_KEY) as service,
    ):
        for client, session_id in ((alice, "a-1"), (alice, "a-2"), (bob, "b-1")):
            answer = await client.post("/sessions", json={"session_id": session_id})
            assert answer.status_code == 201, answer.text
        await service.post("/sessions", json={"session_id": "c-1", "user_id": "carol"})

        listed = {
            name: sorted(s["session_id"] for s in (await c.get("/sessions")).json())
            for name, c in (("alice", alice), ("bob", bob), ("service", service))
        }
        assert listed == {
            "alice": ["a-1", "a-2"],
            "bob": ["b-1"],
            "service": ["a-1", "a-2", "b-1", "c-1"],
        }
        assert (await alice.get("/sessions", params={"user_id": ALICE})).status_code == 200
        assert (await alice.get("/sessions", params={"user_id": BOB})).status_code == 403
        owners = {s["session_id"]: s["user_id"] for s in (await service.get("/sessions")).json()}
        assert owners == {"a-1": ALICE, "a-2": ALICE, "b-1": BOB, "c-1": "carol"}


async def test_another_users_session_answers_exactly_like_an_unknown_one(
    server: BackgroundServer,
) -> None:
    async with (
        as_user(server.url, hs256_token(ALICE)) as alice,
        as_user(server.url, hs256_token(BOB)) as bob,
    ):
        await bob.post("/sessions", json={"session_id": "bobs"})
        await bob.post("/events", json={"session_id": "bobs", "event_type": "user_message"})

        def requests(session_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
            return [
                ("GET", f"/sessions/{session_id}", None),
                ("GET", f"/sessions/{session_id}/events", None),
                ("POST", "/events", {"session_id": session_id, "event_type": "user_message"}),
                ("POST", f"/sessions/{session_id}/summary", None),
                ("DELETE", f"/sessions/{session_id}", None),
            ]

        for (method, path, body), (_, unknown_path, unknown_body) in zip(
            requests("bobs"), requests("nope"), strict=True
        ):
            theirs = await alice.request(method, path, json=body)
            unknown = await alice.request(method, unknown_path, json=unknown_body)
            assert theirs.status_code == unknown.status_code == 404, (method, path)
            assert theirs.json()["detail"].replace("bobs", "nope") == unknown.json()["detail"]

        assert (await bob.get("/sessions/bobs")).json()["summary"] is None
        assert len((await bob.get("/sessions/bobs/events")).json()) == 1


async def test_a_user_id_naming_someone_else_is_403_and_the_own_one_is_the_default(
    server: BackgroundServer,
) -> None:
    async with as_user(server.url, hs256_token(ALICE)) as alice:
        refused = await alice.post("/sessions", json={"session_id": "x", "user_id": BOB})
        assert refused.status_code == 403
        own = await alice.post("/sessions", json={"session_id": "y", "user_id": ALICE})
        default = await alice.post("/sessions", json={"session_id": "z"})
        assert own.json()["user_id"] == default.json()["user_id"] == ALICE


async def test_requests_without_an_accepted_token_are_401(server: BackgroundServer) -> None:
    expired = hs256_token(ALICE, exp=int(time.time()) - 3600)
    refused = {
        "no header": {},
        "expired": {"Authorization": f"Bearer {expired}"},
        "another issuer": {"Authorization": f"Bearer {hs256_token(ALICE, iss='x')}"},
        "not a token": {"Authorization": "Bearer nope"},
    }
    async with httpx.AsyncClient(base_url=server.url) as http:
        for case, headers in refused.items():
            answer = await http.get("/sessions", headers=headers)
            assert answer.status_code == 401, case
            assert answer.headers["www-authenticate"] == "Bearer"
            if case == "expired":
                # The reason helps the client sign in again; the token itself is never echoed.
                assert "ExpiredSignature" in answer.json()["detail"]
                assert expired not in answer.text
        assert (await http.get("/health")).status_code == 200


async def test_the_websocket_takes_the_token_as_a_subprotocol_and_answers_realtime_v1(
    server: BackgroundServer,
) -> None:
    ws, started = await open_as(server.url, "a-ws", hs256_token(ALICE))
    assert ws.subprotocol == "realtime.v1"
    assert started["user_id"] == ALICE
    frames = await ask(ws, "hello")
    assert frames[-1]["finish_reason"] == "stop"
    await ws.close()
    async with as_user(server.url, hs256_token(ALICE)) as alice:
        assert (await alice.get("/sessions/a-ws")).json()["user_id"] == ALICE


async def test_the_websocket_still_takes_the_token_in_the_query(server: BackgroundServer) -> None:
    ws = await connect(ws_url(server.url, "a-query", api_key=hs256_token(ALICE)))
    started = await receive(ws)
    assert started["user_id"] == ALICE and ws.subprotocol is None
    await ws.close()


@pytest.mark.parametrize(
    "case", ["no token", "expired token", "another user's user_id", "wrong secret"]
)
async def test_a_refused_handshake_never_opens_the_socket(
    server: BackgroundServer, case: str
) -> None:
    now = int(time.time())
    token, user_id = {
        "no token": (None, None),
        "expired token": (hs256_token(ALICE, exp=now - 60), None),
        "another user's user_id": (hs256_token(ALICE), BOB),
        "wrong secret": (hs256_token(ALICE, secret="another-secret-of-32-bytes-or-more"), None),
    }[case]
    with pytest.raises(InvalidStatus) as refused:
        await connect(ws_url(server.url, "a-refused", api_key=token, user_id=user_id))
    assert refused.value.response.status_code == 403
    async with as_user(server.url, SERVICE_KEY) as service:
        assert (await service.get("/sessions/a-refused")).status_code == 404


async def test_a_user_cannot_resume_another_users_session(server: BackgroundServer) -> None:
    ws, _ = await open_as(server.url, "bobs-talk", hs256_token(BOB))
    await ask(ws, "my secret is 42")
    await ws.close()
    async with as_user(server.url, hs256_token(BOB)) as bob:
        before = (await bob.get("/sessions/bobs-talk/events")).json()

    url = ws_url(server.url, "bobs-talk")
    intruder = await connect(url, subprotocols=offer(hs256_token(ALICE)))
    with pytest.raises(ConnectionClosed):
        await intruder.recv()
    assert intruder.close_code == 4404

    async with as_user(server.url, hs256_token(BOB)) as bob:
        assert (await bob.get("/sessions/bobs-talk/events")).json() == before


async def test_the_service_key_acts_for_any_user_over_the_websocket(
    server: BackgroundServer,
) -> None:
    ws = await connect(ws_url(server.url, "svc", api_key=SERVICE_KEY, user_id=BOB))
    assert (await receive(ws))["user_id"] == BOB
    await ws.close()
    async with as_user(server.url, hs256_token(BOB)) as bob:
        assert [s["session_id"] for s in (await bob.get("/sessions")).json()] == ["svc"]


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_tokens_signed_with_published_keys_sign_in(
    settings: Settings,
    server_factory: ServerFactory,
    jwks_server: JwksServer,
    algorithm: str,
) -> None:
    server = server_factory(signed_in(settings, auth_jwks_url=jwks_server.url))
    token = signed_token(jwks_server.key(algorithm), ALICE)
    async with as_user(server.url, token) as alice:
        assert (await alice.post("/sessions", json={"session_id": "k"})).status_code == 201
    ws, started = await open_as(server.url, "k", signed_token(jwks_server.key(algorithm), ALICE))
    assert started["resumed"] is True
    await ws.close()


async def test_unreadable_signing_keys_are_503_not_401(
    settings: Settings, server_factory: ServerFactory, jwks_server: JwksServer
) -> None:
    server = server_factory(signed_in(settings, auth_jwks_url=jwks_server.url))
    jwks_server.failing = True
    async with as_user(server.url, signed_token(jwks_server.key("RS256"), ALICE)) as alice:
        answer = await alice.get("/sessions")
    assert answer.status_code == 503
    assert "AUTH_JWKS_URL" in answer.json()["detail"]


async def _try_session(base_url: str, session_id: str, token: str) -> str | None:
    """Connect, say hello and leave; the user id the session started with, or None if refused."""
    try:
        ws = await connect(ws_url(base_url, session_id), subprotocols=offer(token))
    except InvalidStatus:
        return None
    try:
        frame = await receive(ws)
        if frame.get("type") != "session.started":
            return None
        await ask(ws, "hello")
        user_id: str = frame["user_id"]
        return user_id
    except ConnectionClosed:
        return None
    finally:
        await ws.close()


@pytest.mark.parametrize("delay", [0.0, 0.001, 0.005, 0.02, 0.05])
async def test_two_users_racing_for_a_new_session_id_never_share_it(
    server: BackgroundServer, delay: float
) -> None:
    session_id = f"race-{int(delay * 1000)}"

    async def bob_after_a_while() -> str | None:
        # The delay sweeps Bob's arrival across Alice's handshake, creation and first answer.
        await asyncio.sleep(delay)
        return await _try_session(server.url, session_id, hs256_token(BOB))

    got_in = await asyncio.gather(
        _try_session(server.url, session_id, hs256_token(ALICE)), bob_after_a_while()
    )
    async with as_user(server.url, SERVICE_KEY) as service:
        owner = (await service.get(f"/sessions/{session_id}")).json()["user_id"]
    assert [user for user in got_in if user is not None] == [owner]


@pytest.mark.parametrize("bad_user_id", ["", "u" * 257])
async def test_a_user_id_of_no_or_too_many_characters_is_refused_at_the_handshake(
    server: BackgroundServer, bad_user_id: str
) -> None:
    url = ws_url(server.url, "bad-user", api_key=SERVICE_KEY) + f"&user_id={bad_user_id}"
    with pytest.raises(InvalidStatus) as refused:
        await connect(url)
    assert refused.value.response.status_code == 403
