"""One process per SQLite file: a second server process on the same file is refused at start.

Two processes on one SQLite file each keep their own live sessions: both accept the same
session, and their writes fail with "database is locked". An exclusive `flock` on a file
beside the database, held for the life of the app, makes the second one stop at start
with a message saying what to set instead. Apps of one process (tests, notebooks)
share the hold.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import URL

_held: dict[Path, tuple[IO[bytes], int]] = {}


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
