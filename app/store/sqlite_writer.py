"""Every SQLite write of the process on one thread, with the synchronous driver.

Through the async driver every statement is its own hop between the event loop and the
driver's thread, and under load each hop waits its turn in a busy loop; here a whole
transaction (begin, its statements, commit) is one hop. And SQLite has one write lock:
writers on several connections wait for it in SQLite's busy handler, which sleeps and
retries with no queue, so under load one could wait out the busy timeout ("database is
locked": sessions refused at C = 500 opening at once). On one connection they queue in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event, insert, text
from sqlalchemy.engine import URL

from app.store.base import Unavailable
from app.store.tables import session_events

Done = TypeVar("Done")
Arg = TypeVar("Arg")

# Built once: a statement object keeps its cache key, so a batch does not compute it again.
_INSERT_EVENTS = insert(session_events)
_LAST_ROWID = text("select last_insert_rowid()")


# How long a connection waits for SQLite's write lock (another process's, or a checkpoint).
BUSY_TIMEOUT_MS = 10_000


def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Configure a new SQLite connection (a SQLAlchemy `connect` listener)."""
    # WAL lets readers run beside the writer; foreign keys give cascade deletes.
    cursor = dbapi_connection.cursor()
    for pragma in (
        "foreign_keys=ON",
        "journal_mode=WAL",
        "synchronous=NORMAL",
        f"busy_timeout={BUSY_TIMEOUT_MS}",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class SqliteWriter:
    """Runs the process's write transactions one after another on a dedicated thread."""

    def __init__(self, url: URL) -> None:
        self._engine = create_engine(url.set(drivername="sqlite"), pool_size=1, max_overflow=0)
        event.listen(self._engine, "connect", set_pragmas)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writes")

    async def insert(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert the rows; returns their ids in input order."""
        return await self._on_thread(self._insert, rows)

    async def transact(self, work: Callable[[Connection], Done]) -> Done:
        """Run `work` in one transaction after the writes queued before it; its result."""
        return await self._on_thread(self._transaction, work)

    async def _on_thread(self, call: Callable[[Arg], Done], arg: Arg) -> Done:
        try:
            running = asyncio.get_running_loop().run_in_executor(self._thread, call, arg)
        except RuntimeError as exc:  # the thread is shut down: the store was closed
            raise Unavailable("storage is closed") from exc
        return await running

    async def close(self) -> None:
        """Finish queued batches and close the connection."""
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        self._thread.shutdown(wait=True)
        self._engine.dispose()

    def _transaction(self, work: Callable[[Connection], Done]) -> Done:
        with self._engine.begin() as conn:
            return work(conn)

    def _insert(self, rows: list[dict[str, Any]]) -> list[int]:
        with self._engine.begin() as conn:
            conn.execute(_INSERT_EVENTS, rows)
            # One writer holds the lock, so the new rowids are consecutive.
            last: int = conn.execute(_LAST_ROWID).scalar_one()
        return list(range(last - len(rows) + 1, last + 1))
