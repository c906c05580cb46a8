"""Set a database up for the app and describe what it holds: tables, indexes, row-level security."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.config import to_async_url
from app.notebook.blocking import run_blocking
from app.store.migrations import current_revision
from app.store.sql import SqlStore, build_engine

SUPABASE_ROLES = ("anon", "authenticated", "service_role")

_PG_TABLES = """
select c.relname as table_name, s.n_live_tup as rows_estimate,
       c.relrowsecurity as rls_enabled, c.relforcerowsecurity as rls_forced
from pg_class c join pg_namespace n on n.oid = c.relnamespace
left join pg_stat_user_tables s on s.relid = c.oid
where n.nspname = 'public' and c.relkind in ('r', 'p') order by c.relname
"""
_PG_INDEXES = """
select tablename as table_name, indexname as index_name, indexdef as definition
from pg_indexes where schemaname = 'public' order by tablename, indexname
"""
_PG_POLICIES = """
select tablename as table_name, policyname as policy_name, permissive, roles::text[] as roles,
       cmd as command, qual as using_expression, with_check
from pg_policies where schemaname = 'public' order by tablename, policyname
"""
_SUPABASE_PARTS = """
select rolname as part from pg_roles where rolname = any($1)
union all
select 'auth.uid()' where to_regprocedure('auth.uid()') is not null
"""
_SQLITE_OBJECTS = (
    "select type, name, tbl_name, sql from sqlite_master"
    " where name not like 'sqlite_%' order by tbl_name, type desc, name"
)


@dataclass(frozen=True)
class DatabaseReport:
    """What a database holds: its tables, their indexes and row-level-security policies."""

    backend: str
    tables: pd.DataFrame
    indexes: pd.DataFrame
    policies: pd.DataFrame


def backend_of(database_url: str) -> str:
    """`postgresql` or `sqlite`, for any URL the app accepts."""
    return to_async_url(database_url).get_backend_name()


def redacted(database_url: str) -> str:
    """The URL with its password hidden, for printing."""
    return make_url(database_url).render_as_string(hide_password=True)


def libpq_dsn(database_url: str) -> str:
    """The URL as a plain `postgresql://` DSN for asyncpg, with libpq's `sslmode` spelling."""
    url = make_url(database_url).set(drivername="postgresql")
    if "ssl" in url.query and "sslmode" not in url.query:
        query = dict(url.query)
        query["sslmode"] = query.pop("ssl")
        url = url.set(query=query)
    return url.render_as_string(hide_password=False)


def apply_sql_file(database_url: str, path: Path) -> list[str]:
    """Run a SQL script on PostgreSQL (schema.sql is safe to run again); the notices it raised."""
    return run_blocking(_apply(libpq_dsn(database_url), path.read_text(encoding="utf-8")))


async def _apply(dsn: str, script: str) -> list[str]:
    notices: list[str] = []
    # No statement cache: Supabase's transaction pooler cannot keep prepared statements.
    conn = await asyncpg.connect(dsn, timeout=15, statement_cache_size=0)
    conn.add_log_listener(lambda _conn, message: notices.append(message.message))
    try:
        # One simple-protocol call: a script without BEGIN runs as one implicit transaction.
        await conn.execute(script)
    finally:
        await conn.close()
    return notices


def missing_supabase_parts(database_url: str) -> list[str]:
    """What of Supabase's roles and `auth.uid()` (which the schema's policies use) is missing."""
    rows = run_blocking(_fetch(libpq_dsn(database_url), _SUPABASE_PARTS, list(SUPABASE_ROLES)))
    present = {row["part"] for row in rows}
    return [part for part in (*SUPABASE_ROLES, "auth.uid()") if part not in present]


def upgrade_to_head(database_url: str) -> str:
    """Bring the database to the newest revision, as the app does at start; returns it."""
    return run_blocking(_open_store(database_url))


async def _open_store(database_url: str) -> str:
    store = SqlStore(to_async_url(database_url), pool_size=1)
    await store.open()
    try:
        async with store.engine.connect() as conn:
            return await conn.run_sync(current_revision) or ""
    finally:
        await store.close()


def describe_database(database_url: str) -> DatabaseReport:
    """The tables (with RLS state on PostgreSQL), indexes and policies the database holds."""
    if backend_of(database_url) == "postgresql":
        dsn = libpq_dsn(database_url)
        tables, indexes, policies = (
            pd.DataFrame(run_blocking(_fetch(dsn, query)))
            for query in (_PG_TABLES, _PG_INDEXES, _PG_POLICIES)
        )
        return DatabaseReport("postgresql", tables, indexes, policies)
    return run_blocking(_describe_sqlite(database_url))


async def _fetch(dsn: str, query: str, *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn, timeout=15, statement_cache_size=0)
    try:
        return [dict(row) for row in await conn.fetch(query, *args)]
    finally:
        await conn.close()


async def _describe_sqlite(database_url: str) -> DatabaseReport:
    engine = build_engine(to_async_url(database_url), pool_size=1)
    try:
        async with engine.connect() as conn:
            objects = (await conn.execute(text(_SQLITE_OBJECTS))).mappings().all()
            tables = []
            for row in (o for o in objects if o["type"] == "table"):
                quoted = '"' + row["name"].replace('"', '""') + '"'
                found = await conn.execute(text(f"select count(*) from {quoted}"))
                count: int = found.scalar_one()
                tables.append({"table_name": row["name"], "rows": count})
    finally:
        await engine.dispose()
    indexes = [
        {"table_name": o["tbl_name"], "index_name": o["name"], "definition": o["sql"]}
        for o in objects
        if o["type"] == "index"
    ]
    # SQLite has no row-level security: the policies table stays empty.
    policies = pd.DataFrame(columns=["table_name", "policy_name", "roles", "command"])
    return DatabaseReport("sqlite", pd.DataFrame(tables), pd.DataFrame(indexes), policies)
