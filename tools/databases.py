"""Throwaway PostgreSQL databases for the tests and the benchmarks: made empty, dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

# The server the throwaway databases are made on (trust auth, a role that may create databases).
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://127.0.0.1:5432")
SQL_DIR = Path(__file__).resolve().parents[1] / "sql"


def database_url(database: str, *, server: str = TEST_DATABASE_URL) -> str:
    """A plain `postgresql://` URL of one database on the server."""
    url = make_url(server).set(drivername="postgresql", database=database)
    return url.render_as_string(hide_password=False)


@asynccontextmanager
async def throwaway_database(
    prefix: str, *scripts: str, server: str = TEST_DATABASE_URL
) -> AsyncIterator[str]:
    """A brand-new database with the given sql/ scripts applied, dropped (forcibly) afterwards."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    await _administer(f'create database "{name}"', server)
    try:
        url = database_url(name, server=server)
        if scripts:
            await _apply(url, scripts)
        yield url
    finally:
        await _administer(f'drop database if exists "{name}" with (force)', server)


async def _apply(url: str, scripts: tuple[str, ...]) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        for script in scripts:
            await conn.execute((SQL_DIR / script).read_text(encoding="utf-8"))
    finally:
        await conn.close()


async def _administer(statement: str, server: str) -> None:
    conn = await asyncpg.connect(database_url("postgres", server=server), timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
