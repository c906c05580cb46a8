"""One user's view of the store, on every backend: their sessions only, others' are NotFound."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.store.base import NewEvent, NotFound, Store
from app.store.scoped import ScopedStore

pytestmark = pytest.mark.timeout(60)


async def test_a_view_lists_and_reads_only_its_owners_sessions(store: Store) -> None:
    for session_id, owner in (("a-1", "ann"), ("a-2", "ann"), ("b-1", "bob")):
        await store.create_session(session_id=session_id, user_id=owner)
    ann = ScopedStore(store, "ann")
    assert sorted(s.session_id for s in await ann.list_sessions()) == ["a-1", "a-2"]
    assert await ann.list_sessions(user_id="bob") == []
    assert (await ann.get_session("a-1")).user_id == "ann"


async def test_every_verb_on_another_users_session_is_not_found_and_changes_nothing(
    store: Store,
) -> None:
    await store.create_session(session_id="bobs", user_id="bob")
    await store.add_event(NewEvent(session_id="bobs", event_type="user_message", content="hi"))
    ann = ScopedStore(store, "ann")
    attempts = {
        "get_session": ann.get_session("bobs"),
        "list_events": ann.list_events("bobs"),
        "add_event": ann.add_event(NewEvent(session_id="bobs", event_type="error")),
        "reopen_session": ann.reopen_session("bobs"),
        "end_session": ann.end_session("bobs", end_time=datetime.now(UTC)),
        "set_summary": ann.set_summary("bobs", "stolen"),
        "delete_session": ann.delete_session("bobs"),
    }
    for attempt in attempts.values():
        with pytest.raises(NotFound):
            await attempt
    session = await store.get_session("bobs")
    assert (session.status, session.summary) == ("active", None)
    assert [e.content for e in await store.list_events("bobs")] == ["hi"]


async def test_a_view_creates_sessions_for_its_owner_whatever_user_id_says(store: Store) -> None:
    created = await ScopedStore(store, "ann").create_session(session_id="x", user_id="bob")
    assert created.user_id == (await store.get_session("x")).user_id == "ann"
