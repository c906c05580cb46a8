"""The store's error model: what the database refuses fails one write, never a batch.

These go to the store directly, past the validation the API does, so that what reaches
the database is exactly the value a client could once send.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from app.config import Settings
from app.store import build_store
from app.store.base import (
    AlreadyExists,
    EventRecord,
    InvalidValue,
    NewEvent,
    NotFound,
    Store,
    StoreError,
)
from app.store.batching import GroupCommitter

Call = Callable[[Store], Awaitable[Any]]


@pytest.fixture
async def sql_store(settings: Settings) -> AsyncIterator[Store]:
    """An opened SQL store on SQLite and on PostgreSQL (the Supabase store has its own tests)."""
    opened = build_store(settings)
    await opened.open()
    yield opened
    await opened.close()


# Text each database refuses as it is (SQLite stores a NUL; neither encodes a lone surrogate).
REFUSED_TEXT = {"sqlite": ["\ud800"], "postgresql": ["a\u0000b", "\ud800", "x\udfff"]}
REFUSED_METADATA: dict[str, list[dict[str, Any]]] = {
    "sqlite": [],
    "postgresql": [
        {"k": "a\u0000b"},
        {"k": "\ud800"},
        {"nan": float("nan")},
        {"inf": float("-inf")},
        {"deep": [{"x": "\u0000"}]},
    ],
}
DRIVER_WORDS = ("asyncpg", "sqlite3", "Error", "invalid byte", "codec", "0x00", "\\u0000")


def _event(session_id: str, content: str = "ok", **metadata: Any) -> NewEvent:
    return NewEvent(
        session_id=session_id, event_type="user_message", content=content, metadata=metadata
    )


def _refused_events(backend: str) -> list[NewEvent]:
    return [_event("s", text) for text in REFUSED_TEXT[backend]] + [
        _event("s", "ok", **meta) for meta in REFUSED_METADATA[backend]
    ]


def _refused_calls(backend: str) -> list[Call]:
    calls: list[Call] = [
        lambda s: s.list_events("s", after_id=2**63),
        lambda s: s.list_events("s", after_id=-(2**70)),
        lambda s: s.list_sessions(offset=2**63),
        lambda s: s.list_sessions(user_id="\ud800"),
        lambda s: s.create_session(session_id="has space", user_id="u"),
        lambda s: s.create_session(session_id="x", user_id="\udc00"),
    ]
    if backend == "postgresql":
        calls += [
            lambda s: s.list_sessions(user_id="\u0000"),
            lambda s: s.get_session("a\u0000"),
            lambda s: s.create_session(session_id="y", user_id="a\u0000"),
            lambda s: s.create_session(session_id="z", user_id="u", metadata={"n": float("nan")}),
        ]
    return calls


def _assert_client_safe(error: StoreError) -> None:
    assert not any(word in str(error) for word in DRIVER_WORDS), str(error)


async def test_every_refused_value_is_invalid_value_without_driver_text(
    sql_store: Store, backend: str
) -> None:
    await sql_store.create_session(session_id="s", user_id="u")
    for event in _refused_events(backend):
        with pytest.raises(InvalidValue) as refused:
            await sql_store.add_event(event)
        _assert_client_safe(refused.value)
    for call in _refused_calls(backend):
        with pytest.raises(InvalidValue) as refused:
            await call(sql_store)
        _assert_client_safe(refused.value)
    # Nothing was stored, and the store still works.
    assert await sql_store.list_events("s") == []
    assert [s.session_id for s in await sql_store.list_sessions()] == ["s"]


async def test_conflicts_are_already_exists_and_not_found_naming_the_session(
    sql_store: Store,
) -> None:
    await sql_store.create_session(session_id="taken", user_id="u")
    with pytest.raises(AlreadyExists, match="'taken' already exists"):
        await sql_store.create_session(session_id="taken", user_id="v")
    with pytest.raises(NotFound, match="'ghost' not found"):
        await sql_store.add_event(_event("ghost"))


@pytest.mark.parametrize("position", [0, 57, 119])
async def test_concurrent_writers_and_one_refused_value_lose_nothing_else(
    sql_store: Store, backend: str, position: int
) -> None:
    bad = _refused_events(backend)[0]
    sessions = [f"w{n}" for n in range(12)]
    for session_id in sessions:
        await sql_store.create_session(session_id=session_id, user_id="u")
    await sql_store.create_session(session_id="s", user_id="u")
    writes = [_event(sessions[i % 12], f"good {i}") for i in range(119)]
    writes.insert(position, bad)
    # Submitted in one go: the group committer takes them as one batch.
    results = await asyncio.gather(
        *(sql_store.add_event(e) for e in writes), return_exceptions=True
    )
    refused = [n for n, result in enumerate(results) if not isinstance(result, EventRecord)]
    assert refused == [position] and isinstance(results[position], InvalidValue)
    stored = [e.content for s in sessions for e in await sql_store.list_events(s)]
    assert sorted(stored) == sorted(f"good {i}" for i in range(119))


async def test_an_unavailable_database_fails_the_rest_of_the_batch_at_once() -> None:
    """The committer alone, on plain functions: nothing else can make a database die mid-retry."""
    from app.store.base import Unavailable

    tried: list[int] = []

    async def write_many(items: list[int]) -> list[int]:
        raise InvalidValue("one of them is bad")

    async def write_one(item: int) -> int:
        tried.append(item)
        if item == 2:
            raise InvalidValue("bad")
        if item == 3:
            raise Unavailable("gone")
        return item

    committer: GroupCommitter[int, int] = GroupCommitter(
        write_many, write_one, fails_batch=(Unavailable,)
    )
    results = await asyncio.gather(*(committer.submit(i) for i in range(6)), return_exceptions=True)
    assert [type(r).__name__ for r in results] == [
        "int",
        "int",
        "InvalidValue",
        "Unavailable",
        "Unavailable",
        "Unavailable",
    ]
    assert tried == [0, 1, 2, 3]
