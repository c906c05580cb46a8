"""Event batches for SQLite written on one thread with the synchronous driver.

Through the async driver every statement of a batch is its own hop between the event
loop and the driver's thread, and under load each hop waits its turn in a busy loop;
here a whole batch (begin, insert, last rowid, commit) is one hop.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.engine import URL

from app.store.tables import session_events


def set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Configure a new SQLite connection (a SQLAlchemy `connect` listener)."""
    # WAL lets readers run beside the writer; foreign keys give cascade deletes.
    cursor = dbapi_connection.cursor()
    for pragma in (
        "foreign_keys=ON",
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "busy_timeout=10000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class SqliteEventWriter:
    """Inserts event rows in one transaction per batch on a dedicated thread."""

    def __init__(self, url: URL) -> None:
        self._engine = create_engine(url.set(drivername="sqlite"), pool_size=1, max_overflow=0)
        event.listen(self._engine, "connect", set_pragmas)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-events")

    async def insert(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert the rows; returns their ids in input order."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._insert, rows)

    async def close(self) -> None:
        """Finish queued batches and close the connection."""
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        self._thread.shutdown(wait=True)
        self._engine.dispose()

    def _insert(self, rows: list[dict[str, Any]]) -> list[int]:
        with self._engine.begin() as conn:
            conn.execute(insert(session_events), rows)
            # One writer holds the lock, so the new rowids are consecutive.
            last: int = conn.execute(text("select last_insert_rowid()")).scalar_one()
        return list(range(last - len(rows) + 1, last + 1))
