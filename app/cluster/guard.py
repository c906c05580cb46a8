"""One process per database without a bus: a second server process is refused at start.

Processes without the Redis bus each keep their own live sessions: two on one database
both accept the same session, run two writers on it and end it twice (on SQLite their
writes fail with "database is locked"). So each holds its database for the life of the
app and a second one stops at start with a message saying what to set instead:
- SQLite: an exclusive `flock` on a file beside the database.
- PostgreSQL: an advisory lock on a connection of its own, exclusive for a process
  without the bus, shared by the processes of the bus (REDIS_URL), so a process of either
  kind refuses to join the other. PostgreSQL lets go of it when the process dies.
Apps of one process (tests, notebooks) share the hold: on PostgreSQL, a lock held only by
connections named for this process counts as this process's.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
import uuid
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.store.sql import build_engine

_held: dict[Path, tuple[IO[bytes], int]] = {}
# The advisory lock's key ("rt-1proc"); advisory locks are per database.
_LOCK_KEY = 0x72742D3170726F63
# A process killed a moment ago may hold it until PostgreSQL has seen its connection close.
_LOCK_WAIT_SECONDS = 2.0
# Names this process's lock connections (application_name), whatever loop or thread opens them.
_PROCESS_NAME = f"realtime-guard-{uuid.uuid4().hex[:12]}"
_TRY = {
    False: text("select pg_try_advisory_lock(:key)"),
    True: text("select pg_try_advisory_lock_shared(:key)"),
}
_OTHERS_HOLDING = text(
    """
    select count(*) from pg_locks l join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.granted and l.database = a.datid and l.objsubid = 1
      and ((l.classid::bigint << 32) | l.objid::bigint) = :key
      and a.datname = current_database() and a.application_name is distinct from :me
    """
)


class SecondProcess(RuntimeError):
    """Another process serves this SQLite file already."""


def hold_sqlite_file(url: URL) -> Path | None:
    """Hold the database file for this process; SecondProcess if another one holds it."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database).resolve().with_name(Path(url.database).name + ".lock")
    handle, users = _held.get(path, (None, 0))
    if handle is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise SecondProcess(
                f"another server process (not pid {os.getpid()}) uses {url.database}; SQLite "
                "serves one process. To run several, set DATABASE_URL to PostgreSQL and REDIS_URL"
            ) from None
    _held[path] = (handle, users + 1)
    return path


def let_go(path: Path | None) -> None:
    """Give up this app's hold; the lock goes with the last one of the process."""
    if path is None or path not in _held:
        return
    handle, users = _held[path]
    if users > 1:
        _held[path] = (handle, users - 1)
        return
    del _held[path]
    handle.close()


async def hold_postgres(url: URL, *, bus: bool) -> AsyncConnection | None:
    """Hold the PostgreSQL database for this app; SecondProcess when it cannot share it.

    `bus`: this process is one of several sharing Redis (they share the lock); without it
    the process must be the database's only one. Returns the connection holding the lock.
    """
    if url.get_backend_name() != "postgresql" or url.port == 6543:
        # A transaction-mode pooler (6543) hands each statement to any server connection:
        # a lock of the session cannot be held through it.
        return None
    engine = build_engine(url, pool_size=1)
    try:
        conn = await engine.connect()
        await conn.execute(text(f"set application_name = '{_PROCESS_NAME}'"))
        deadline = time.monotonic() + _LOCK_WAIT_SECONDS
        while not await _locked(conn, shared=bus):
            if time.monotonic() > deadline:
                raise SecondProcess(_refusal(url, shared=bus))
            await asyncio.sleep(0.2)
        await conn.commit()  # the lock belongs to the connection: it outlives the transaction
    except BaseException:
        await engine.dispose()
        raise
    return conn


async def _locked(conn: AsyncConnection, *, shared: bool) -> bool:
    """Take the lock; or find that only this process's connections hold it."""
    if await conn.scalar(_TRY[shared], {"key": _LOCK_KEY}):
        return True
    others = await conn.scalar(_OTHERS_HOLDING, {"key": _LOCK_KEY, "me": _PROCESS_NAME})
    return bool(others == 0)


def _refusal(url: URL, *, shared: bool) -> str:
    where = url.render_as_string(hide_password=True)
    if shared:
        return (
            f"a server process without REDIS_URL uses {where}; it must be the only one. "
            "To run several processes, set REDIS_URL (the same Redis) on every one of them"
        )
    return (
        f"another server process (not pid {os.getpid()}) uses {where}. Processes without "
        "REDIS_URL cannot share a database: set REDIS_URL (one Redis for all) to run several"
    )


async def let_go_postgres(conn: AsyncConnection | None) -> None:
    """Close the connection holding this app's lock (PostgreSQL then lets go of it)."""
    if conn is not None:
        engine: AsyncEngine = conn.engine
        await conn.close()
        await engine.dispose()
