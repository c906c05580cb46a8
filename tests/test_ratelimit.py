"""RATE_LIMIT_PER_MINUTE: user messages and REST writes per user, in memory or through Redis."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import redis.asyncio as redis
from pydantic import SecretStr
from redis.exceptions import RedisError

from app.auth.ratelimit import MemoryRateLimiter, RedisRateLimiter
from app.background import BackgroundServer
from app.config import Settings
from tests.conftest import REQUIRE_POSTGRES
from tests.servers.jwks import ISSUER, JWT_SECRET, hs256_token
from tests.wsclient import ask, open_session, receive, send

pytestmark = pytest.mark.timeout(120)
ServerFactory = Callable[[Settings], BackgroundServer]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Clock:
    """A clock the test moves by hand, for the in-memory window."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test on the shared Redis; its keys are deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except RedisError as exc:
        await client.aclose()
        message = f"Redis at {REDIS_URL} is unreachable: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message + " (set REQUIRE_POSTGRES=1 to fail instead)")
    prefix = f"test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield prefix
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_the_memory_window_lets_n_writes_through_per_minute_and_says_when_to_retry() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(3, clock=clock)
    for _ in range(3):
        assert await limiter.hit("ann") is None
        clock.now += 10
    assert await limiter.hit("ann") == pytest.approx(30.0)
    assert await limiter.hit("bob") is None
    clock.now += 30
    assert await limiter.hit("ann") is None
    assert await limiter.hit("ann") == pytest.approx(10.0)


async def test_the_memory_window_forgets_users_who_went_quiet() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(1, clock=clock)
    for user in range(100):
        await limiter.hit(f"user-{user}")
    clock.now += 61
    assert await limiter.hit("user-0") is None
    assert len(limiter._times) == 1


async def test_processes_sharing_redis_share_one_window(redis_prefix: str) -> None:
    first = RedisRateLimiter.from_url(REDIS_URL, 3, prefix=redis_prefix)
    second = RedisRateLimiter.from_url(REDIS_URL, 3, prefix=redis_prefix)
    try:
        assert [await first.hit("ann"), await second.hit("ann"), await first.hit("ann")] == [
            None
        ] * 3
        wait = await second.hit("ann")
        assert wait is not None and 0 < wait <= 60
        assert await first.hit("bob") is None
    finally:
        await first.close()
        await second.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_writes_go_through_when_redis_is_down() -> None:
    limiter = RedisRateLimiter.from_url(f"redis://127.0.0.1:{_closed_port()}/0", 1, prefix="x")
    try:
        assert [await limiter.hit("ann"), await limiter.hit("ann")] == [None, None]
    finally:
        await limiter.close()


async def test_a_user_over_the_limit_gets_rate_limited_and_the_socket_stays(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = server_factory(settings.model_copy(update={"rate_limit_per_minute": 2}))
    ws, _ = await open_session(server.url, "rl-1", user_id="ann")
    for text in ("one", "two"):
        assert (await ask(ws, text))[-1]["type"] == "assistant.done"
    await send(ws, {"type": "user.message", "content": "three"})
    refused = await receive(ws)
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    assert 0 < refused["retry_after"] <= 60
    await send(ws, {"type": "ping"})
    assert await receive(ws) == {"type": "pong"}
    await ws.close()

    # The limit is the user's, whichever session they write in; other users have their own.
    other, _ = await open_session(server.url, "rl-2", user_id="ann")
    await send(other, {"type": "user.message", "content": "four"})
    assert (await receive(other))["code"] == "rate_limited"
    await other.close()
    bob, _ = await open_session(server.url, "rl-3", user_id="bob")
    assert (await ask(bob, "hi"))[-1]["finish_reason"] == "stop"
    await bob.close()

    async with httpx.AsyncClient(base_url=server.url) as http:
        events = (await http.get("/sessions/rl-1/events")).json()
    assert [e["content"] for e in events if e["event_type"] == "user_message"] == ["one", "two"]


async def test_an_observers_refused_messages_do_not_use_up_the_writers_limit(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = server_factory(settings.model_copy(update={"rate_limit_per_minute": 2}))
    writer, _ = await open_session(server.url, "rl-obs", user_id="ann")
    observer, _ = await open_session(server.url, "rl-obs", user_id="ann", mode="observe")
    for text in ("a", "b", "c"):
        await send(observer, {"type": "user.message", "content": text})
        assert (await receive(observer))["code"] == "read_only"
    for text in ("one", "two"):
        assert (await ask(writer, text))[-1]["finish_reason"] == "stop"
    await observer.close()
    await writer.close()


async def test_rest_writes_over_the_limit_get_429_with_retry_after(
    settings: Settings, server_factory: ServerFactory
) -> None:
    limited = {
        "rate_limit_per_minute": 2,
        "auth_jwt_secret": SecretStr(JWT_SECRET),
        "auth_jwt_issuer": ISSUER,
        "api_key": SecretStr("svc"),
    }
    server = server_factory(settings.model_copy(update=limited))
    ann = {"Authorization": f"Bearer {hs256_token('ann')}"}
    async with httpx.AsyncClient(base_url=server.url) as http:
        statuses = [
            (await http.post("/sessions", json={"session_id": f"w{i}"}, headers=ann)).status_code
            for i in range(2)
        ]
        refused = await http.post(
            "/events", json={"session_id": "w0", "event_type": "error"}, headers=ann
        )
        assert statuses == [201, 201] and refused.status_code == 429
        wait = int(refused.headers["retry-after"])
        # Whole seconds until the oldest write leaves the 60 s window: at least one, at most 60.
        assert wait >= 1, wait
        assert wait <= 60, wait
        assert (await http.get("/sessions", headers=ann)).status_code == 200
        bob = {"Authorization": f"Bearer {hs256_token('bob')}"}
        assert (await http.post("/sessions", json={}, headers=bob)).status_code == 201
        service = {"Authorization": "Bearer svc"}
        for _ in range(3):
            assert (await http.post("/sessions", json={}, headers=service)).status_code == 201


async def test_servers_sharing_redis_count_a_users_messages_together(
    settings: Settings, server_factory: ServerFactory, redis_prefix: str
) -> None:
    shared = {"rate_limit_per_minute": 2, "redis_url": REDIS_URL, "redis_prefix": redis_prefix}
    first = server_factory(settings.model_copy(update=shared))
    second = server_factory(settings.model_copy(update=shared))
    for server, session_id in ((first, "r-1"), (second, "r-2")):
        ws, _ = await open_session(server.url, session_id, user_id="ann")
        assert (await ask(ws, "hello"))[-1]["type"] == "assistant.done"
        await ws.close()
    ws, _ = await open_session(first.url, "r-3", user_id="ann")
    await send(ws, {"type": "user.message", "content": "third"})
    assert (await receive(ws))["code"] == "rate_limited"
    await ws.close()
