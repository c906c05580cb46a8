"""The tail read (`tail_events`) on every backend, and the `context_summary` event type."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.store.base import NewEvent, NotFound, Store
from app.store.scoped import ScopedStore
from app.store.sql import SqlStore
from tests.conftest import make_settings

LEGACY_SQLITE = Path(__file__).parent / "legacy" / "legacy-0.1.0.sqlite3"


async def _fill(store: Store, session_id: str, count: int) -> list[int]:
    await store.create_session(session_id=session_id, user_id="ann")
    ids = []
    for number in range(count):
        event = NewEvent(session_id=session_id, event_type="user_message", content=str(number))
        ids.append((await store.add_event(event)).id)
    return ids


async def test_the_tail_is_the_latest_events_in_order(store: Store) -> None:
    ids = await _fill(store, "tail", 12)
    await _fill(store, "other", 3)
    tail = await store.tail_events("tail", limit=5)
    assert [e.id for e in tail] == ids[-5:] and [e.content for e in tail] == list("789") + [
        "10",
        "11",
    ]
    before = await store.tail_events("tail", limit=4, before_id=ids[6])
    assert [e.id for e in before] == ids[2:6]
    assert [e.id for e in await store.tail_events("tail", limit=50)] == ids
    assert await store.tail_events("tail", limit=5, before_id=ids[0]) == []


async def test_the_tail_of_an_unknown_session_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.tail_events("nobody", limit=5)


async def test_a_users_view_reads_only_the_tail_of_their_own_sessions(store: Store) -> None:
    ids = await _fill(store, "ann-1", 4)
    ann, bob = ScopedStore(store, "ann"), ScopedStore(store, "bob")
    assert [e.id for e in await ann.tail_events("ann-1", limit=2)] == ids[-2:]
    with pytest.raises(NotFound):
        await bob.tail_events("ann-1", limit=2)


async def test_a_context_summary_is_stored_with_its_range(store: Store) -> None:
    ids = await _fill(store, "sum", 3)
    summary = NewEvent(
        session_id="sum",
        event_type="context_summary",
        content="The user counted to 2.",
        metadata={"covers_through_id": ids[-1], "tokens_before": 900, "tokens_after": 100},
    )
    stored = await store.add_event(summary)
    assert stored.role == "system" and stored.metadata["covers_through_id"] == ids[-1]


async def test_a_database_from_before_migrations_takes_context_summaries(tmp_path: Path) -> None:
    shutil.copy(LEGACY_SQLITE, tmp_path / "old.db")
    url = make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'old.db'}").sql_url
    store = SqlStore(url, pool_size=1)
    await store.open()
    try:
        event = NewEvent(session_id="legacy-1", event_type="context_summary", content="x")
        assert (await store.add_event(event)).event_type == "context_summary"
        assert len(await store.list_events("legacy-1")) == 9  # the old rows are kept
    finally:
        await store.close()
