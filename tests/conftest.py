"""Fixtures: settings, a store on each backend, the ASGI app, a real uvicorn server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.background import BackgroundServer
from app.config import Settings
from app.main import create_app
from app.store import build_store
from app.store.base import Store
from tools.databases import TEST_DATABASE_URL, throwaway_database

pytest_plugins: list[str] = [
    "tests.servers.openai_sse",
    "tests.servers.postgrest",
    "tests.servers.jwks",
    "tests.pages",
]

# In CI (or when asked) a missing PostgreSQL fails the run instead of skipping its tests.
REQUIRE_POSTGRES = bool(os.environ.get("CI") or os.environ.get("REQUIRE_POSTGRES"))
BACKENDS = ["sqlite", "postgresql"]
# Tests on the `store` or `client` fixture also run on Supabase (the PostgREST stand-in).
SUPABASE_BACKENDS = [*BACKENDS, "supabase"]


@pytest.fixture
async def fresh_pg_url(pg_url: str) -> AsyncIterator[str]:
    """An empty PostgreSQL database of its own for one test."""
    async with throwaway_database("rt_fresh") as url:
        yield url


@pytest.fixture(scope="session")
async def pg_url() -> AsyncIterator[str]:
    """A throwaway PostgreSQL database for this test run, dropped at the end."""
    async with AsyncExitStack() as stack:
        try:
            url = await stack.enter_async_context(throwaway_database("rt_test"))
        except (OSError, asyncpg.PostgresError) as exc:
            message = f"PostgreSQL at {TEST_DATABASE_URL} is unreachable: {exc}"
            if REQUIRE_POSTGRES:
                pytest.fail(message)
            pytest.skip(message + " (set REQUIRE_POSTGRES=1 to fail instead)")
        yield url


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Add the Supabase backend to tests of the storage interface and the REST API."""
    names = set(metafunc.fixturenames)
    if "backend" in names and names & {"store", "client"}:
        # A parametrize mark on the test takes precedence over the fixture's own params.
        mark = pytest.mark.parametrize("backend", SUPABASE_BACKENDS, indirect=True)
        metafunc.definition.add_marker(mark, append=False)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the storage backend a test runs on."""
    name: str = request.param
    return name


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database on the backend under test (cleaned by the `settings` fixture)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    if backend == "supabase":
        supabase_url: str = request.getfixturevalue("postgrest_database")
        return supabase_url
    url: str = request.getfixturevalue("pg_url")
    return url


async def empty_postgres(url: str) -> None:
    """Remove every row the previous test left in the PostgreSQL test database."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        exists = await conn.fetchval("select to_regclass('public.session_events') is not null")
        if exists:
            await conn.execute("truncate sessions, session_events restart identity cascade")
    finally:
        await conn.close()


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: no `.env`, the local provider, nothing from the outside."""
    values: dict[str, Any] = {"llm_provider": "local", "api_key": None, "openai_api_key": None}
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
async def settings(database_url: str, backend: str, request: pytest.FixtureRequest) -> Settings:
    """Settings on the backend under test, its database empty."""
    if backend != "sqlite":
        await empty_postgres(database_url)
    if backend == "supabase":
        server = request.getfixturevalue("postgrest_server")
        return make_settings(
            database_url=None, supabase_url=server.url, supabase_service_role_key=server.key
        )
    return make_settings(database_url=database_url)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    """An opened store on the backend under test."""
    opened = build_store(settings)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
def app_factory() -> Callable[[Settings], Any]:
    """Build an app for the given settings."""
    return create_app


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client on the ASGI app, lifespan included."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


@pytest.fixture
def server_factory() -> Iterator[Callable[[Settings], BackgroundServer]]:
    """Start real uvicorn servers for given settings; all stop at the end of the test."""
    started: list[BackgroundServer] = []

    def start(settings: Settings) -> BackgroundServer:
        server = BackgroundServer(settings).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(
    settings: Settings, server_factory: Callable[[Settings], BackgroundServer]
) -> BackgroundServer:
    """A real uvicorn server on the backend under test."""
    return server_factory(settings)
