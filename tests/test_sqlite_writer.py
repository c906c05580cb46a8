"""SQLite's one write lock: the process's writes queue on one connection, never race for it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.store import sqlite_writer
from app.store.base import NewEvent
from app.store.sql import SqlStore

SESSIONS = 300


async def _one_life(store: SqlStore, session_id: str) -> None:
    """What a session writes from its open to its summary, as the app writes it."""
    await store.create_session(session_id=session_id, user_id="u")
    await store.add_event(NewEvent(session_id=session_id, event_type="session_start"))
    await store.add_event(NewEvent(session_id=session_id, event_type="user_message", content="q"))
    await store.end_session(session_id, end_time=datetime.now(UTC))
    await store.set_summary(session_id, "a summary")


@pytest.mark.timeout(120)
async def test_sessions_opening_and_ending_at_once_never_wait_for_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With no busy wait at all, two connections writing at once would fail with
    # "database is locked" at once: what waiting past the timeout did under load.
    monkeypatch.setattr(sqlite_writer, "BUSY_TIMEOUT_MS", 0)
    store = SqlStore(make_url(f"sqlite+aiosqlite:///{tmp_path / 'locks.db'}"))
    await store.open()
    try:
        ids = [f"s-{i}" for i in range(SESSIONS)]
        await asyncio.gather(*(_one_life(store, session_id) for session_id in ids))
        stored = await store.list_sessions(status="ended", limit=500)
        assert sorted(s.session_id for s in stored) == sorted(ids)
        assert all(s.summary == "a summary" and s.turns == 1 for s in stored)
    finally:
        await store.close()
