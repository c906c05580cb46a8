"""The storage interface, run on every backend by the parametrized `store` fixture."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.store.base import AlreadyExists, NewEvent, NotFound, Store

TRICKY_STRINGS = [
    "plain",
    "unicode: naïve café — 日本語 — emoji 🎉🚀 — RTL עברית",
    "quotes ' \" ` and backslash \\ and nul-free control \t\n\r",
    "'; DROP TABLE sessions; --",
    "x" * 200_000,
]


async def test_created_session_is_active_and_read_back(store: Store) -> None:
    created = await store.create_session(session_id="s-1", user_id="alice", metadata={"k": [1]})
    found = await store.get_session("s-1")
    assert found == created
    assert found.status == "active" and found.user_id == "alice"
    assert found.metadata == {"k": [1]}
    assert found.start_time.tzinfo is not None and found.start_time.utcoffset() == timedelta(0)


async def test_duplicate_session_id_is_refused(store: Store) -> None:
    await store.create_session(session_id="dup", user_id="a")
    with pytest.raises(AlreadyExists):
        await store.create_session(session_id="dup", user_id="b")


async def test_unknown_session_is_not_found_everywhere(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.get_session("nope")
    with pytest.raises(NotFound):
        await store.list_events("nope")
    with pytest.raises(NotFound):
        await store.add_event(NewEvent(session_id="nope", event_type="user_message", content="x"))
    with pytest.raises(NotFound):
        await store.delete_session("nope")
    with pytest.raises(NotFound):
        await store.set_summary("nope", "s")
    with pytest.raises(NotFound):
        await store.end_session("nope", end_time=datetime.now(UTC))


async def test_events_come_back_in_order_with_roles_defaulted(store: Store) -> None:
    await store.create_session(session_id="ev", user_id="u")
    kinds = ["session_start", "user_message", "tool_call", "tool_result", "assistant_message"]
    for kind in kinds:
        await store.add_event(NewEvent(session_id="ev", event_type=kind, content=kind))  # type: ignore[arg-type]
    events = await store.list_events("ev")
    assert [e.event_type for e in events] == kinds
    assert [e.role for e in events] == ["system", "user", "assistant", "tool", "assistant"]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert all(e.created_at.utcoffset() == timedelta(0) for e in events)


async def test_event_pagination_uses_after_id_and_limit(store: Store) -> None:
    await store.create_session(session_id="page", user_id="u")
    for i in range(7):
        await store.add_event(
            NewEvent(session_id="page", event_type="user_message", content=str(i))
        )
    first = await store.list_events("page", limit=3)
    rest = await store.list_events("page", after_id=first[-1].id, limit=100)
    assert [e.content for e in first] == ["0", "1", "2"]
    assert [e.content for e in rest] == ["3", "4", "5", "6"]
    assert await store.list_events("page", after_id=rest[-1].id) == []


@pytest.mark.parametrize("text", TRICKY_STRINGS, ids=range(len(TRICKY_STRINGS)))
async def test_strings_round_trip_exactly(store: Store, text: str) -> None:
    await store.create_session(session_id="rt", user_id=text[:256], metadata={"note": text})
    event = await store.add_event(
        NewEvent(session_id="rt", event_type="user_message", content=text, metadata={"t": text})
    )
    [stored] = await store.list_events("rt")
    assert stored == event
    assert stored.content == text and stored.metadata == {"t": text}
    session = await store.get_session("rt")
    assert session.user_id == text[:256] and session.metadata == {"note": text}


async def test_sessions_list_newest_first_with_filters(store: Store) -> None:
    # Created in an order that is neither the ids' order nor its reverse, so only the
    # start_time ordering gives the expected lists (the id is just the tie-breaker).
    for i, session_id in enumerate(["c", "e", "a", "d", "b"]):
        created = await store.create_session(session_id=session_id, user_id=f"u{i % 2}")
        while datetime.now(UTC) <= created.start_time:  # the next one starts strictly later
            await asyncio.sleep(0)
    await store.end_session("c", end_time=datetime.now(UTC))
    newest = await store.list_sessions()
    assert [s.session_id for s in newest] == ["b", "d", "a", "e", "c"]
    assert [s.session_id for s in await store.list_sessions(user_id="u1")] == ["d", "e"]
    assert [s.session_id for s in await store.list_sessions(status="ended")] == ["c"]
    assert [s.session_id for s in await store.list_sessions(limit=2, offset=1)] == ["d", "a"]


async def test_ending_sets_end_time_and_duration_and_reopen_clears_them(store: Store) -> None:
    start = await store.create_session(session_id="end", user_id="u")
    ended = await store.end_session("end", end_time=start.start_time + timedelta(seconds=90))
    assert ended.status == "ended"
    assert ended.end_time == start.start_time + timedelta(seconds=90)
    assert ended.duration_seconds == pytest.approx(90.0)
    reopened = await store.reopen_session("end")
    assert (reopened.status, reopened.end_time, reopened.duration_seconds) == ("active", None, None)


async def test_summary_is_saved(store: Store) -> None:
    await store.create_session(session_id="sum", user_id="u")
    saved = await store.set_summary("sum", "Talked about «mice».")
    assert saved.summary == "Talked about «mice»."
    assert (await store.get_session("sum")).summary == "Talked about «mice»."


async def test_turns_count_the_user_messages(store: Store) -> None:
    await store.create_session(session_id="turns", user_id="u")
    for kind in ["user_message", "assistant_message", "user_message", "tool_call"]:
        await store.add_event(NewEvent(session_id="turns", event_type=kind))  # type: ignore[arg-type]
    assert (await store.get_session("turns")).turns == 2
    assert [s.turns for s in await store.list_sessions()] == [2]


async def test_delete_cascades_to_events(store: Store) -> None:
    await store.create_session(session_id="del", user_id="u")
    await store.create_session(session_id="keep", user_id="u")
    for sid in ("del", "keep"):
        await store.add_event(NewEvent(session_id=sid, event_type="user_message", content="x"))
    await store.delete_session("del")
    with pytest.raises(NotFound):
        await store.list_events("del")
    assert len(await store.list_events("keep")) == 1


async def test_concurrent_writers_all_land_with_the_ids_they_were_given(store: Store) -> None:
    await store.create_session(session_id="many", user_id="u")
    returned = []

    async def write(worker: int) -> None:
        for i in range(10):
            returned.append(
                await store.add_event(
                    NewEvent(session_id="many", event_type="user_message", content=f"{worker}:{i}")
                )
            )

    await asyncio.gather(*(write(w) for w in range(20)))
    events = await store.list_events("many")
    assert len(events) == 200
    assert sorted(returned, key=lambda e: e.id) == events


async def test_a_bad_event_in_a_batch_fails_alone(store: Store) -> None:
    await store.create_session(session_id="good", user_id="u")
    results = await asyncio.gather(
        *(
            store.add_event(NewEvent(session_id=sid, event_type="user_message", content=sid))
            for sid in ["good", "ghost", "good", "good"]
        ),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == [
        "EventRecord",
        "NotFound",
        "EventRecord",
        "EventRecord",
    ]
    assert len(await store.list_events("good")) == 3
