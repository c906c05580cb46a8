"""Alembic migrations: a database of any age is brought to the newest revision at start."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

from app.background import BackgroundServer
from app.config import Settings
from app.store.migrations import current_revision, head_revision
from app.store.sql import SqlStore, build_engine
from app.store.tables import metadata
from tests.conftest import make_settings
from tools.databases import throwaway_database

DATA = Path(__file__).parent / "legacy"
# Made by the app before migrations existed: 3 sessions (legacy-0 ended, with a summary),
# each with 8 events, ids 1-24 (see tests/legacy/).
LEGACY_SQLITE = DATA / "legacy-0.1.0.sqlite3"
LEGACY_POSTGRES = DATA / "legacy-0.1.0.postgres.sql"


@pytest.fixture
async def legacy_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A copy of a database made by the release before migrations, on the backend under test."""
    if backend == "sqlite":
        shutil.copy(LEGACY_SQLITE, tmp_path / "old.db")
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        return
    async with throwaway_database("rt_legacy") as url:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(LEGACY_POSTGRES.read_text())
        finally:
            await conn.close()
        yield url


async def _revision_and_drift(url: str) -> tuple[str | None, list[object]]:
    def inspect(conn: Connection) -> tuple[str | None, list[object]]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return current_revision(conn), list(compare_metadata(context, metadata))

    engine = build_engine(make_settings(database_url=url).sql_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(inspect)
    finally:
        await engine.dispose()


async def _open_store(url: str) -> None:
    store = SqlStore(make_settings(database_url=url).sql_url, pool_size=2)
    await store.open()
    await store.close()


async def test_an_old_database_upgrades_in_place_keeping_its_rows(
    legacy_url: str, server_factory: Callable[[Settings], BackgroundServer]
) -> None:
    assert (await _revision_and_drift(legacy_url))[0] is None
    server = server_factory(make_settings(database_url=legacy_url))
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        listed = (await http.get("/sessions")).json()
        assert sorted(s["session_id"] for s in listed) == ["legacy-0", "legacy-1", "legacy-2"]
        old = (await http.get("/sessions/legacy-0")).json()
        assert old["status"] == "ended" and old["summary"] == "A legacy summary."
        assert old["metadata"] == {"n": 0, "tags": ["a", "ü"]} and old["turns"] == 4
        events = (await http.get("/sessions/legacy-2/events")).json()
        assert [e["id"] for e in events] == list(range(17, 25))
        assert events[0]["content"] == "hello 0 — ✓" and events[-1]["metadata"]["seq"] == 8
        added = await http.post("/events", json={"session_id": "legacy-1", "event_type": "error"})
        assert added.status_code == 201 and added.json()["id"] == 25
    server.stop()
    assert await _revision_and_drift(legacy_url) == (head_revision(), [])


async def test_the_migrations_make_exactly_the_tables_the_app_declares(
    backend: str, tmp_path: Path
) -> None:
    async with _empty_database(backend, tmp_path) as url:
        await _open_store(url)
        assert await _revision_and_drift(url) == (head_revision(), [])
        await _open_store(url)  # a second start finds nothing to do
        assert await _revision_and_drift(url) == (head_revision(), [])


@pytest.mark.postgres
async def test_processes_starting_together_on_one_database_migrate_it_once(
    fresh_pg_url: str,
) -> None:
    await asyncio.gather(*(_open_store(fresh_pg_url) for _ in range(4)))
    assert await _revision_and_drift(fresh_pg_url) == (head_revision(), [])
    conn = await asyncpg.connect(fresh_pg_url)
    try:
        assert await conn.fetchval("select count(*) from alembic_version") == 1
    finally:
        await conn.close()


async def test_a_database_stamped_at_an_unknown_revision_is_refused(
    backend: str, tmp_path: Path
) -> None:
    async with _empty_database(backend, tmp_path) as url:
        await _open_store(url)
        engine = build_engine(make_settings(database_url=url).sql_url, pool_size=1)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("update alembic_version set version_num = '9999'"))
        finally:
            await engine.dispose()
        store = SqlStore(make_settings(database_url=url).sql_url, pool_size=1)
        with pytest.raises(Exception, match="9999"):
            await store.open()
        await store.close()


@asynccontextmanager
async def _empty_database(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"
        return
    async with throwaway_database("rt_migrate") as url:
        yield url
