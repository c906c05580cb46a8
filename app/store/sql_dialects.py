"""What the SQL store does differently on each database, chosen once from its URL.

PostgreSQL: a pool that may overflow, asyncpg's timeouts, the whole pool opened up front,
and event batches as one `INSERT … RETURNING` through the async engine. SQLite: a fixed
pool for reads, PRAGMAs on every connection, and every write (event batches, session
rows) on one thread with the synchronous driver (`sqlite_writer`). Group commit, retries
and error translation are the store's, the same on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, event, insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.store.sql_errors import translated
from app.store.sqlite_writer import SqliteWriter, set_pragmas
from app.store.tables import session_events

Done = TypeVar("Done")

# Built once: a statement object keeps its cache key, so a batch does not compute it again.
_INSERT_RETURNING_IDS = insert(session_events).returning(
    session_events.c.id, sort_by_parameter_order=True
)


class EventWriter(Protocol):
    """Where the store sends its writes, once the database is open."""

    async def insert(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert the rows in one transaction; their ids in input order."""
        ...

    async def transact(self, work: Callable[[Connection], Done]) -> Done:
        """Run `work` in one write transaction; its result."""
        ...

    async def close(self) -> None:
        """Finish the batches under way and release what the writer holds."""
        ...


class SqlDialect(Protocol):
    """One database's engine settings and event writer."""

    name: str

    def build_engine(self, url: URL, *, pool_size: int) -> AsyncEngine:
        """The async engine for `url`, with the settings this database needs."""
        ...

    async def open_writer(self, engine: AsyncEngine, *, pool_size: int) -> EventWriter:
        """The event writer for an engine whose schema is up to date."""
        ...


class PostgresEventWriter:
    """Each batch is one `INSERT … RETURNING` on a pooled connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert the rows in one transaction; their ids in input order."""
        async with self._engine.begin() as conn:
            return list((await conn.execute(_INSERT_RETURNING_IDS, rows)).scalars())

    async def transact(self, work: Callable[[Connection], Done]) -> Done:
        """Run `work` in one transaction on a pooled connection; its result."""
        async with self._engine.begin() as conn:
            return await conn.run_sync(work)

    async def close(self) -> None:
        """Nothing of its own to release: the store disposes of the engine."""


class PostgresDialect:
    """PostgreSQL through asyncpg."""

    name = "postgresql"

    def build_engine(self, url: URL, *, pool_size: int) -> AsyncEngine:
        """A pool that may double under bursts, with connect and statement timeouts."""
        connect_args: dict[str, Any] = {"timeout": 5, "command_timeout": 30}
        if "pooler.supabase.com" in (url.host or "") or url.port == 6543:
            # Transaction-mode poolers cannot keep prepared statements between calls.
            connect_args["statement_cache_size"] = 0
        return create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=10,
            connect_args=connect_args,
        )

    async def open_writer(self, engine: AsyncEngine, *, pool_size: int) -> EventWriter:
        """Open every pooled connection first, then write through the engine."""
        # A connection opened in the middle of a burst stalled a whole round (90-110 ms).
        with translated():
            async with AsyncExitStack() as held:
                await asyncio.gather(
                    *(held.enter_async_context(engine.connect()) for _ in range(pool_size))
                )
        return PostgresEventWriter(engine)


class SqliteDialect:
    """SQLite through aiosqlite for reads, the synchronous driver on one thread for writes."""

    name = "sqlite"

    def build_engine(self, url: URL, *, pool_size: int) -> AsyncEngine:
        """A fixed pool whose connections get the PRAGMAs; the file's folder is made."""
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=0)
        event.listen(engine.sync_engine, "connect", set_pragmas)
        return engine

    async def open_writer(self, engine: AsyncEngine, *, pool_size: int) -> EventWriter:
        """A writer with its own connection to the engine's file, on its own thread."""
        return SqliteWriter(engine.url)


_DIALECTS: dict[str, SqlDialect] = {
    dialect.name: dialect for dialect in (PostgresDialect(), SqliteDialect())
}


def dialect_for(url: URL) -> SqlDialect:
    """The dialect of the URL's database; ValueError for one the store does not run on."""
    backend = url.get_backend_name()
    try:
        return _DIALECTS[backend]
    except KeyError:
        raise ValueError(
            f"the SQL store runs on {' or '.join(_DIALECTS)}, not on '{backend}'"
        ) from None
