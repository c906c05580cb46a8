"""sql/schema.sql and the tables the app's migrations make agree, column for column."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from app.store.migrations import head_revision
from app.store.sql import SqlStore
from tests.conftest import make_settings
from tools.databases import throwaway_database

SCHEMA = Path(__file__).parents[1] / "sql" / "schema.sql"

COLUMNS = """
select table_name, column_name, data_type, is_nullable, column_default, is_identity
from information_schema.columns
where table_schema = 'public' order by table_name, column_name
"""
INDEXES = "select indexdef from pg_indexes where schemaname = 'public' order by indexname"
CONSTRAINTS = """
select conrelid::regclass::text, conname, pg_get_constraintdef(oid)
from pg_constraint where connamespace = 'public'::regnamespace order by 1, 2
"""


async def _describe(url: str) -> dict[str, list[tuple[str, ...]]]:
    conn = await asyncpg.connect(url)
    try:
        return {
            name: [tuple(row) for row in await conn.fetch(query)]
            for name, query in (("columns", COLUMNS), ("indexes", INDEXES), ("checks", CONSTRAINTS))
        } | {"revision": [(await conn.fetchval("select version_num from alembic_version"),)]}
    finally:
        await conn.close()


async def _apply_schema_sql(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SCHEMA.read_text())
        await conn.execute(SCHEMA.read_text())  # idempotent: a second run changes nothing
    finally:
        await conn.close()


async def _open_store(url: str) -> None:
    store = SqlStore(make_settings(database_url=url).sql_url)
    await store.open()
    await store.close()


async def test_schema_sql_matches_the_tables_the_migrations_make(fresh_pg_url: str) -> None:
    async with throwaway_database("rt_app_tables") as app_db:
        await _apply_schema_sql(fresh_pg_url)
        await _open_store(app_db)
        from_sql, from_app = await _describe(fresh_pg_url), await _describe(app_db)
    assert from_sql == from_app
    assert len(from_sql["columns"]) == 16 and len(from_sql["checks"]) == 8
    assert from_sql["revision"] == [(head_revision(),)]


async def test_the_app_starts_on_a_database_made_by_schema_sql(fresh_pg_url: str) -> None:
    await _apply_schema_sql(fresh_pg_url)
    before = await _describe(fresh_pg_url)
    await _open_store(fresh_pg_url)
    assert await _describe(fresh_pg_url) == before


async def test_schema_sql_refuses_a_malformed_session_id(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(SCHEMA.read_text())
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("insert into sessions (session_id) values ('has space')")
    finally:
        await conn.close()
