"""At most N user writes per user in any 60 seconds: in memory, or shared through Redis."""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0

# A sliding window in one sorted set per user, atomic across processes. Times are the Redis
# server's own, so processes with drifting clocks still agree. Answers 0 (allowed) or the
# milliseconds until the oldest counted write leaves the window.
_SLIDING_WINDOW = """
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], window)
    return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""


class RateLimiter(Protocol):
    """Counts one write for a key; answers None (go ahead) or the seconds to wait."""

    async def hit(self, key: str) -> float | None:
        """Count a write now, or refuse it with the seconds until one is allowed again."""

    async def close(self) -> None:
        """Release connections."""


def retry_after_header(seconds: float) -> str:
    """The `Retry-After` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


class MemoryRateLimiter:
    """The sliding window in this process: each key's write times of the last minute."""

    def __init__(self, limit: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._times: dict[str, deque[float]] = {}
        self._swept_at = clock()

    async def hit(self, key: str) -> float | None:
        """Count a write for `key`, or say how long until the oldest one leaves the window."""
        now = self._clock()
        cutoff = now - WINDOW_SECONDS
        if self._swept_at < cutoff:
            # Once a window, drop the users who went quiet, so memory follows active users.
            self._swept_at = now
            for quiet in [k for k, times in self._times.items() if times[-1] <= cutoff]:
                del self._times[quiet]
        times = self._times.setdefault(key, deque())
        while times and times[0] <= cutoff:
            times.popleft()
        if len(times) < self._limit:
            times.append(now)
            return None
        return times[0] + WINDOW_SECONDS - now

    async def close(self) -> None:
        """Nothing to release."""


class RedisRateLimiter:
    """The same window in Redis, so every process of the service counts the same writes."""

    def __init__(self, client: redis.Redis, limit: int, *, prefix: str) -> None:
        self._client = client
        self._limit = limit
        self._prefix = prefix
        self._script = client.register_script(_SLIDING_WINDOW)

    @classmethod
    def from_url(cls, url: str, limit: int, *, prefix: str) -> RedisRateLimiter:
        """A limiter on its own connection pool to REDIS_URL."""
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        return cls(client, limit, prefix=prefix)

    async def hit(self, key: str) -> float | None:
        """Count a write in Redis; when Redis is down the write is let through (and logged)."""
        args: list[int | str] = [self._limit, int(WINDOW_SECONDS * 1000), uuid.uuid4().hex]
        try:
            wait_ms = await self._script(keys=[f"{self._prefix}:ratelimit:{key}"], args=args)
        except RedisError as exc:
            log.warning("rate limit not checked, Redis failed: %s", type(exc).__name__)
            return None
        return None if int(wait_ms) == 0 else int(wait_ms) / 1000

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
