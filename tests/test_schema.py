"""sql/schema.sql and the tables the app creates agree, column for column."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from app.store.sql import SqlStore
from tests.conftest import make_settings
from tools.databases import throwaway_database

SCHEMA = Path(__file__).parents[1] / "sql" / "schema.sql"

COLUMNS = """
select table_name, column_name, data_type, is_nullable
from information_schema.columns
where table_schema = 'public' and table_name in ('sessions', 'session_events')
order by table_name, column_name
"""
INDEXES = "select indexname from pg_indexes where schemaname = 'public' order by indexname"


async def _describe(url: str) -> tuple[list[tuple[str, ...]], list[str]]:
    conn = await asyncpg.connect(url)
    try:
        columns = [tuple(row) for row in await conn.fetch(COLUMNS)]
        indexes = [row["indexname"] for row in await conn.fetch(INDEXES)]
        return columns, indexes
    finally:
        await conn.close()


async def test_schema_sql_matches_the_app_tables(fresh_pg_url: str) -> None:
    async with throwaway_database("rt_app_tables") as app_db:
        await _compare(fresh_pg_url, app_db)


async def _compare(sql_db: str, app_db: str) -> None:
    conn = await asyncpg.connect(sql_db)
    try:
        await conn.execute(SCHEMA.read_text())
        await conn.execute(SCHEMA.read_text())  # idempotent: a second run changes nothing
    finally:
        await conn.close()
    store = SqlStore(make_settings(database_url=app_db).sql_url)
    await store.open()
    await store.close()
    from_sql, from_app = await _describe(sql_db), await _describe(app_db)
    assert from_sql[0] == from_app[0]
    assert len(from_sql[0]) == 15
    for index in ("session_events_session_id_id_idx", "sessions_user_id_start_time_idx"):
        assert index in from_sql[1] and index in from_app[1]


async def test_schema_sql_refuses_a_malformed_session_id(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(SCHEMA.read_text())
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("insert into sessions (session_id) values ('has space')")
    finally:
        await conn.close()
