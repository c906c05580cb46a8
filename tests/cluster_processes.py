"""Real server processes for the several-process tests: `python -m app` on ports of their own.

Each process is started from an empty directory (no `.env`), with the environment given,
and is ready once `GET /health` answers. Redis is required: a missing Redis fails the
tests, it never skips them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from redis.exceptions import RedisError

from tests.processes import free_port
from tools.databases import throwaway_database

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).parents[1]


async def require_redis(url: str = REDIS_URL) -> None:
    """Fail (never skip) when the Redis the tests need is not there."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        pytest.fail(f"Redis at {url} is unreachable ({exc}); these tests need it")
    finally:
        await client.aclose()


@dataclass
class ServerProcess:
    """One `python -m app` process."""

    name: str
    env: dict[str, str]
    cwd: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        """Start it (no wait)."""
        env = {**os.environ, **self.env, "HOST": "127.0.0.1", "PORT": str(self.port)}
        env["PYTHONPATH"] = str(ROOT)
        with (self.cwd / f"{self.name}.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app"], cwd=self.cwd, env=env, stdout=log, stderr=log
            )
        return self

    async def ready(self, timeout: float = 60.0) -> ServerProcess:
        """Wait until it answers `GET /health` (any status: Redis may be down on purpose)."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while True:
                assert self.proc is not None and self.proc.poll() is None, self.log()
                try:
                    await http.get("/health")
                    return self
                except httpx.TransportError:
                    assert time.monotonic() < deadline, self.log()
                    await asyncio.sleep(0.1)

    def kill(self) -> None:
        """`kill -9`: no drain, no lease released, nothing written."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then wait for it to finish."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        """What it printed (for failure messages)."""
        path = self.cwd / f"{self.name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def cluster_env(database_url: str, prefix: str, **extra: Any) -> dict[str, str]:
    """The environment of a process of the service (local model, short lease)."""
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": prefix,
        "LLM_PROVIDER": "local",
        "SESSION_LEASE_SECONDS": "4",
        "LOG_LEVEL": "warning",
        "OPENAI_API_KEY": "",
        "API_KEY": "",
    }
    env.update({key.upper(): str(value) for key, value in extra.items()})
    return env


def unique_prefix() -> str:
    """A Redis key prefix no other test uses."""
    return f"rt-test-{uuid.uuid4().hex[:10]}"


async def drop_prefix(prefix: str, url: str = REDIS_URL) -> None:
    """Delete the keys a test left under its prefix."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    except (RedisError, OSError):
        pass
    finally:
        await client.aclose()


@dataclass
class Processes:
    """Started processes, stopped at the end of the test."""

    cwd: Path
    started: list[ServerProcess] = field(default_factory=list)

    async def start(self, name: str, env: dict[str, str]) -> ServerProcess:
        """Start one and wait until it serves."""
        process = ServerProcess(name, env, self.cwd).start()
        self.started.append(process)
        return await process.ready()

    async def start_many(self, env: dict[str, str], *names: str) -> list[ServerProcess]:
        """Start several at once (they import in parallel)."""
        processes = [ServerProcess(name, env, self.cwd).start() for name in names]
        self.started.extend(processes)
        return list(await asyncio.gather(*(p.ready() for p in processes)))

    def stop_all(self) -> None:
        """Stop every one still running."""
        for process in self.started:
            process.stop()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Start server processes; all stop at the end of the test."""
    running = Processes(tmp_path)
    yield running
    running.stop_all()


async def redis_keys(prefix: str) -> AsyncIterator[str]:
    """The keys under a prefix (to look at what a test left)."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        async for key in client.scan_iter(match=f"{prefix}:*"):
            yield key
    finally:
        await client.aclose()


@asynccontextmanager
async def cluster_database(prefix: str) -> AsyncIterator[str]:
    """A PostgreSQL database of its own, Redis checked first: either missing fails, never skips."""
    await require_redis()
    try:
        database = throwaway_database(prefix)
        url = await database.__aenter__()
    except OSError as exc:
        pytest.fail(f"PostgreSQL is unreachable ({exc}); these tests need it")
    try:
        yield url
    finally:
        await database.__aexit__(None, None, None)
