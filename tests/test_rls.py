"""Row-level security of sql/schema.sql, for real on PostgreSQL with Supabase's roles.

The last test runs the same users against the server and against the roles: both show each
user the same sessions and events.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest

from app.background import BackgroundServer
from app.config import Settings
from tests.conftest import make_settings
from tests.servers.jwks import JWT_SECRET, hs256_token
from tools.databases import throwaway_database

pytestmark = pytest.mark.timeout(120)

ALICE = str(uuid.UUID(int=1))
BOB = str(uuid.UUID(int=2))
SESSIONS = {"alice-1": ALICE, "alice-2": ALICE, "bob-1": BOB}


@pytest.fixture(scope="module")
async def rls_url(pg_url: str) -> AsyncIterator[str]:
    """A database of this module: Supabase's roles, schema.sql applied twice, two users' rows."""
    scripts = ("supabase_local.sql", "schema.sql", "schema.sql")
    async with throwaway_database("rt_rls", *scripts) as url:
        conn = await asyncpg.connect(url)
        try:
            for session_id, user_id in SESSIONS.items():
                await conn.execute(
                    "insert into sessions (session_id, user_id) values ($1, $2)",
                    session_id,
                    user_id,
                )
                await conn.execute(
                    "insert into session_events (session_id, event_type, role, content)"
                    " values ($1, 'user_message', 'user', 'hi')",
                    session_id,
                )
        finally:
            await conn.close()
        yield url


@pytest.fixture
async def conn(rls_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the owner (a superuser), from which a test switches role."""
    connection = await asyncpg.connect(rls_url)
    yield connection
    await connection.close()


@asynccontextmanager
async def acting_as(
    conn: asyncpg.Connection, role: str, claims: dict[str, str] | None = None
) -> AsyncIterator[None]:
    """A transaction under `role` with the JWT claims PostgREST would set; rolled back."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(f"set local role {role}")
        if claims is not None:
            await conn.execute(
                "select set_config('request.jwt.claims', $1, true)", json.dumps(claims)
            )
        yield
    finally:
        await transaction.rollback()


async def visible(conn: asyncpg.Connection) -> tuple[list[str], list[str]]:
    """The session ids of the visible sessions and of the visible events."""
    sessions = await conn.fetch("select session_id from sessions order by session_id")
    events = await conn.fetch("select session_id from session_events order by session_id")
    return [r["session_id"] for r in sessions], [r["session_id"] for r in events]


async def test_anon_is_denied_both_tables(conn: asyncpg.Connection) -> None:
    for table in ("sessions", "session_events"):
        async with acting_as(conn, "anon"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"select * from {table}")


async def test_signed_in_user_reads_only_their_sessions_and_events(
    conn: asyncpg.Connection,
) -> None:
    async with acting_as(conn, "authenticated", {"sub": ALICE, "role": "authenticated"}):
        assert await visible(conn) == (["alice-1", "alice-2"], ["alice-1", "alice-2"])
    async with acting_as(conn, "authenticated", {"sub": BOB, "role": "authenticated"}):
        assert await visible(conn) == (["bob-1"], ["bob-1"])


async def test_the_older_single_claim_setting_works_too(conn: asyncpg.Connection) -> None:
    async with acting_as(conn, "authenticated"):
        await conn.execute("select set_config('request.jwt.claim.sub', $1, true)", BOB)
        assert await visible(conn) == (["bob-1"], ["bob-1"])


async def test_signed_in_user_without_a_subject_reads_nothing(conn: asyncpg.Connection) -> None:
    async with acting_as(conn, "authenticated", {"role": "authenticated"}):
        assert await visible(conn) == ([], [])


async def test_signed_in_user_cannot_write(conn: asyncpg.Connection) -> None:
    async with acting_as(conn, "authenticated", {"sub": ALICE}):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("update sessions set summary = 'x' where session_id = 'alice-1'")
    async with acting_as(conn, "authenticated", {"sub": ALICE}):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("delete from session_events")


async def test_service_role_reads_and_writes_everything(conn: asyncpg.Connection) -> None:
    async with acting_as(conn, "service_role"):
        sessions, events = await visible(conn)
        assert sessions == sorted(SESSIONS) and events == sorted(SESSIONS)
        await conn.execute(
            "insert into session_events (session_id, event_type, role)"
            " values ('bob-1', 'error', 'system')"
        )
        await conn.execute("delete from sessions where session_id = 'bob-1'")
        assert await visible(conn) == (["alice-1", "alice-2"], ["alice-1", "alice-2"])


async def test_rls_is_on_and_a_second_run_left_one_policy_per_table(
    conn: asyncpg.Connection,
) -> None:
    enabled = await conn.fetch(
        "select relname from pg_class"
        " where relrowsecurity and relname in ('sessions', 'session_events')"
    )
    policies = await conn.fetch(
        "select tablename, roles::text[] from pg_policies order by tablename"
    )
    assert sorted(r["relname"] for r in enabled) == ["session_events", "sessions"]
    assert [(p["tablename"], p["roles"]) for p in policies] == [
        ("session_events", ["authenticated"]),
        ("sessions", ["authenticated"]),
    ]


async def test_rls_roles_cannot_bypass_it_by_being_superusers(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        "select rolname, rolsuper, rolbypassrls, rolcanlogin from pg_roles"
        " where rolname in ('anon', 'authenticated', 'service_role') order by rolname"
    )
    assert [tuple(r) for r in rows] == [
        ("anon", False, False, False),
        ("authenticated", False, False, False),
        ("service_role", False, True, False),
    ]


CAROL = str(uuid.UUID(int=3))


@pytest.fixture
async def shared_url(pg_url: str) -> AsyncIterator[str]:
    """A database set up like a Supabase project, for the server and the roles to share."""
    async with throwaway_database("rt_agree", *SCRIPTS) as url:
        yield url


SCRIPTS = ("supabase_local.sql", "schema.sql")


async def server_view(
    base_url: str, user: str, session_ids: list[str]
) -> tuple[list[str], list[str]]:
    """What the server shows a user: their listed sessions, and the events it lets them read."""
    token = hs256_token(user)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        listed = sorted(s["session_id"] for s in (await http.get("/sessions")).json())
        events: list[str] = []
        for session_id in session_ids:
            answer = await http.get(f"/sessions/{session_id}/events")
            readable = answer.status_code == 200
            assert readable == (session_id in listed), (user, session_id, answer.status_code)
            events += [e["session_id"] for e in answer.json()] if readable else []
    return listed, sorted(events)


async def test_the_server_and_row_level_security_show_each_user_the_same_rows(
    shared_url: str, server_factory: Callable[[Settings], BackgroundServer]
) -> None:
    settings = make_settings(
        database_url=shared_url, auth_jwt_secret=JWT_SECRET, api_key="service-key"
    )
    server = server_factory(settings)
    owners = {"a-1": ALICE, "a-2": ALICE, "b-1": BOB, "anon-1": None}
    async with httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": "Bearer service-key"}
    ) as service:
        for session_id, owner in owners.items():
            body = (
                {"session_id": session_id, "user_id": owner}
                if owner
                else {"session_id": session_id}
            )
            assert (await service.post("/sessions", json=body)).status_code == 201
            for _ in range(2):
                event = {"session_id": session_id, "event_type": "user_message", "content": "hi"}
                assert (await service.post("/events", json=event)).status_code == 201

    conn = await asyncpg.connect(shared_url)
    try:
        for user in (ALICE, BOB, CAROL):
            async with acting_as(conn, "authenticated", {"sub": user, "role": "authenticated"}):
                by_rls = await visible(conn)
            by_server = await server_view(server.url, user, sorted(owners))
            assert by_server == by_rls, user
            assert by_rls[0] == sorted(s for s, owner in owners.items() if owner == user)
    finally:
        await conn.close()
