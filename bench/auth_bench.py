"""What sign-in costs: token checks per algorithm, one user's view of the store, rate-limit hits.

Workload (printed with the results): N token checks per algorithm with warm keys; N event
writes and N session reads on a fresh SQLite database, straight and through ScopedStore; N
rate-limit hits in memory and on the Redis at REDIS_URL (default 127.0.0.1:6379, a unique
key prefix, deleted afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable

import jwt
import redis.asyncio as redis
from pydantic import SecretStr

from app.auth.jwks import JwksCache
from app.auth.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from app.auth.tokens import TokenRules, TokenVerifier
from app.store import build_store
from app.store.base import NewEvent, Store
from app.store.scoped import ScopedStore
from bench.common import percentile, print_table
from tests.conftest import make_settings
from tests.servers.jwks import JWT_SECRET, JwksServer, hs256_token, signed_token

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


async def timed(count: int, call: Callable[[int], Awaitable[object]]) -> dict[str, object]:
    """Run `call` count times one after another; throughput and latency percentiles."""
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        await call(i)
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    return {
        "per_s": f"{count / elapsed:,.0f}",
        "p50_ms": f"{percentile(latencies, 50):.3f}",
        "p99_ms": f"{percentile(latencies, 99):.3f}",
    }


async def token_checks(count: int) -> list[dict[str, object]]:
    """Checks per second of one token per algorithm, keys already cached."""
    jwks = JwksServer()
    try:
        verifier = TokenVerifier(
            secret=SecretStr(JWT_SECRET),
            jwks=JwksCache(jwks.url),
            rules=TokenRules(audience="authenticated", issuer=None),
        )
        tokens = {
            "HS256": hs256_token("u"),
            "RS256": signed_token(jwks.key("RS256"), "u"),
            "ES256": signed_token(jwks.key("ES256"), "u"),
        }
        rows: list[dict[str, object]] = []
        for name, token in tokens.items():

            async def check(_i: int) -> str:
                return await verifier.subject(token)  # noqa: B023 (awaited in this iteration)

            await check(0)
            rows.append({"check": f"token {name}", **await timed(count, check)})
        return rows
    finally:
        jwks.stop()


async def store_views(count: int) -> list[dict[str, object]]:
    """Event writes and session reads straight on the store and through one user's view."""
    with tempfile.TemporaryDirectory() as folder:
        store = build_store(make_settings(database_url=f"sqlite+aiosqlite:///{folder}/b.db"))
        await store.open()
        try:
            await store.create_session(session_id="s", user_id="ann")
            rows: list[dict[str, object]] = []
            views: dict[str, Store] = {"store": store, "ScopedStore": ScopedStore(store, "ann")}
            for name, view in views.items():

                async def write(i: int) -> object:
                    event = NewEvent(session_id="s", event_type="user_message", content=f"m{i}")
                    return await view.add_event(event)  # noqa: B023

                async def read(_i: int) -> object:
                    return await view.get_session("s")  # noqa: B023

                rows.append({"check": f"{name} add_event", **await timed(count, write)})
                rows.append({"check": f"{name} get_session", **await timed(count, read)})
            return rows
        finally:
            await store.close()


async def limiter_hits(count: int) -> list[dict[str, object]]:
    """Rate-limit hits per second, in memory and through Redis."""
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    limiters: dict[str, RateLimiter] = {
        "limit memory": MemoryRateLimiter(10**9),
        "limit redis": RedisRateLimiter.from_url(REDIS_URL, 10**9, prefix=prefix),
    }
    rows: list[dict[str, object]] = []
    for name, limiter in limiters.items():

        async def hit(i: int) -> object:
            return await limiter.hit(f"user-{i % 50}")  # noqa: B023

        rows.append({"check": name, **await timed(count, hit)})
        await limiter.close()
    client = redis.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
    return rows


async def main() -> None:
    """Run the three parts and print one table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=2000, help="calls per row")
    count = parser.parse_args().n
    rows = await token_checks(count) + await store_views(count) + await limiter_hits(count)
    print_table(f"sign-in costs, {count} sequential calls per row (one event loop)", rows)
    print(f"PyJWT {jwt.__version__}; RS256 keys of 2048 bits, ES256 on P-256")


if __name__ == "__main__":
    asyncio.run(main())
