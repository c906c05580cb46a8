"""What only the Supabase backend does: its key, its reachability, its missing tables."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.main import create_app
from app.store import build_store
from app.store.base import NewEvent, Unavailable
from app.store.supabase_rest import SupabaseStore
from tests.conftest import empty_postgres, make_settings
from tests.servers.postgrest import SERVICE_KEY, PostgrestStandIn
from tools.databases import throwaway_database


@pytest.fixture
def own_server(postgrest_database: str) -> Iterator[PostgrestStandIn]:
    """A stand-in of its own, whose key a test may rotate."""
    server = PostgrestStandIn(postgrest_database).start()
    yield server
    server.stop()


@pytest.fixture
async def bare_database(pg_url: str) -> AsyncIterator[str]:
    """A database with Supabase's roles but without the app's tables."""
    async with throwaway_database("rt_supabase_bare", "supabase_local.sql") as url:
        yield url


def supabase_store(url: str, key: str = SERVICE_KEY) -> SupabaseStore:
    """A store on a Supabase URL, not yet opened."""
    return SupabaseStore(url, SecretStr(key))


def closed_port_url() -> str:
    """A local URL on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def open_failure(store: SupabaseStore) -> Unavailable:
    """The error `open` raises (within a bound: no retry sleeps, no long connect timeout)."""
    with pytest.raises(Unavailable) as caught:
        async with asyncio.timeout(10):
            await store.open()
    assert SERVICE_KEY not in str(caught.value)
    return caught.value


def test_settings_with_url_and_key_and_no_database_pick_supabase() -> None:
    settings = make_settings(
        database_url=None, supabase_url="http://127.0.0.1:1", supabase_service_role_key="sk-42"
    )
    store = build_store(settings)
    assert store.name == "supabase" and "sk-42" not in repr(vars(store))


async def test_wrong_key_is_unavailable_naming_the_setting(
    postgrest_server: PostgrestStandIn,
) -> None:
    error = await open_failure(supabase_store(postgrest_server.url, key="not-the-key"))
    assert "SUPABASE_SERVICE_ROLE_KEY" in str(error) and "not-the-key" not in str(error)


async def test_unreachable_url_is_unavailable_at_once() -> None:
    url = closed_port_url()
    error = await open_failure(supabase_store(url))
    assert "unreachable" in str(error) and url in str(error)


async def test_url_that_is_not_http_is_unavailable() -> None:
    error = await open_failure(supabase_store("ftp://example.invalid"))
    assert "SUPABASE_URL" in str(error)


async def test_missing_tables_are_unavailable_with_the_schema_hint(bare_database: str) -> None:
    server = PostgrestStandIn(bare_database).start()
    try:
        error = await open_failure(supabase_store(server.url))
    finally:
        server.stop()
    assert "sql/schema.sql" in str(error) and "SQL editor" in str(error)


async def test_rotated_key_makes_rest_answer_503_and_health_report_it(
    own_server: PostgrestStandIn, postgrest_database: str
) -> None:
    await empty_postgres(postgrest_database)
    settings = make_settings(
        database_url=None, supabase_url=own_server.url, supabase_service_role_key=SERVICE_KEY
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            assert (await http.get("/sessions")).status_code == 200
            own_server.key = "rotated-key"
            answers = [await http.get("/sessions"), await http.get("/health")]
    assert [a.status_code for a in answers] == [503, 503]
    assert all(SERVICE_KEY not in a.text for a in answers)
    assert "refused the key" in answers[0].json()["detail"]


async def test_server_going_away_makes_ping_unavailable(postgrest_database: str) -> None:
    server = PostgrestStandIn(postgrest_database).start()
    store = supabase_store(server.url)
    await store.open()
    server.stop()
    try:
        with pytest.raises(Unavailable, match="unreachable"):
            await store.ping()
    finally:
        await store.close()


async def test_turns_are_counted_past_the_servers_row_cap(postgrest_database: str) -> None:
    await empty_postgres(postgrest_database)
    server = PostgrestStandIn(postgrest_database, max_rows=5).start()
    store = supabase_store(server.url)
    await store.open()
    try:
        await store.create_session(session_id="user:1.a", user_id="u")
        for _ in range(12):
            await store.add_event(NewEvent(session_id="user:1.a", event_type="user_message"))
        counted: list[Any] = [await store.get_session("user:1.a"), *await store.list_sessions()]
    finally:
        await store.close()
        server.stop()
    assert [s.turns for s in counted] == [12, 12]
