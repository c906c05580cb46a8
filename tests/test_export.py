"""Exports: the store's keyset pages, the transcript, and `/events/export` read back into pandas."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pandas as pd
import pytest
from pydantic import SecretStr

from app.api import formats
from app.background import BackgroundServer
from app.config import Settings
from app.store.base import NewEvent, Store
from app.store.scoped import ScopedStore
from tests.servers.jwks import ISSUER, JWT_SECRET, hs256_token
from tests.wsclient import ask, open_session, stored_events, wait_for_summary

pytestmark = pytest.mark.timeout(120)
ServerFactory = Callable[[Settings], BackgroundServer]
KEY = "export-test-key"


async def _fill(store: Store, layout: dict[str, str], per_session: int) -> None:
    """Sessions (id → owner) with `per_session` events each, interleaved across sessions."""
    for session_id, owner in layout.items():
        await store.create_session(session_id=session_id, user_id=owner)
    for n in range(per_session):
        for session_id in layout:
            event = NewEvent(session_id=session_id, event_type="user_message", content=f"m{n}")
            await store.add_event(event)


async def test_export_pages_by_id_through_every_session_and_keeps_to_the_range(
    store: Store,
) -> None:
    await _fill(store, {"ex-a": "ann", "ex-b": "bob", "ex-c": "ann"}, per_session=4)
    pages, after = [], 0
    while page := await store.export_events(after_id=after, limit=5):
        pages.append(page)
        after = page[-1].id
    everything = [event for page in pages for event in page]
    assert [len(page) for page in pages] == [5, 5, 2]
    assert [e.id for e in everything] == sorted(e.id for e in everything)
    assert len({e.id for e in everything}) == 12

    since, until = everything[3].created_at, everything[8].created_at
    ranged = await store.export_events(since=since, until=until)
    assert [e.id for e in ranged] == [e.id for e in everything[3:8]]
    assert await store.export_events(since=everything[-1].created_at + timedelta(hours=1)) == []

    anns = await store.export_events(user_id="ann")
    assert {e.session_id for e in anns} == {"ex-a", "ex-c"} and len(anns) == 8
    assert [e.id for e in await store.export_events(user_id="ann", after_id=anns[3].id)] == [
        e.id for e in anns[4:]
    ]
    assert await store.export_events(user_id="nobody") == []


async def test_a_users_view_exports_only_their_own_events(store: Store) -> None:
    await _fill(store, {"own-a": "ann", "own-b": "bob"}, per_session=3)
    ann = ScopedStore(store, "ann")
    assert {e.session_id for e in await ann.export_events()} == {"own-a"}
    assert await ann.export_events(user_id="bob") == []
    assert len(await ann.export_events(user_id="ann")) == 3


def _events_frame(text: str, kind: str) -> pd.DataFrame:
    """An export read by pandas as any other tool would read the file."""
    if kind == "csv":
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        frame["id"] = frame["id"].astype(int)
        frame["metadata"] = frame["metadata"].map(json.loads)
        return frame
    # One JSON object a line, values as written (pandas 3 deprecates read_json's convert_dates).
    return pd.DataFrame.from_records([json.loads(line) for line in text.splitlines() if line])


async def _converse(base: str, session_id: str, *, token: str | None = None) -> None:
    ws, _ = await open_session(base, session_id, token=token)
    await ask(ws, "What time is it?")
    await ask(ws, 'Do we have any "mice", with `backticks`,\nin stock?')
    await ws.close()


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
async def test_the_export_reads_back_into_pandas_as_the_stored_events(
    live_server: BackgroundServer, kind: str
) -> None:
    base = live_server.url
    await _converse(base, "export-1")
    await _converse(base, "export-2")
    # Ending a session writes its last events in the background: wait until both are whole.
    await wait_for_summary(base, "export-1")
    await wait_for_summary(base, "export-2")
    stored = await stored_events(base, "export-1") + await stored_events(base, "export-2")
    async with httpx.AsyncClient(base_url=base) as http:
        answer = await http.get("/events/export", params={"format": kind})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(formats.MEDIA_TYPES[kind])
    frame = _events_frame(answer.text, kind)
    assert list(frame.columns) == list(formats.EVENT_COLUMNS)
    exported = frame.to_dict("records")
    mine = [row for row in exported if row["session_id"] in ("export-1", "export-2")]
    assert [row["id"] for row in mine] == [event["id"] for event in stored]
    for row, event in zip(mine, stored, strict=True):
        for column in ("session_id", "event_type", "role", "content", "metadata"):
            assert row[column] == event[column], column
        assert pd.Timestamp(row["created_at"]) == pd.Timestamp(event["created_at"])
    tool_calls = frame[frame["event_type"] == "tool_call"]
    assert sorted(m["name"] for m in tool_calls["metadata"]) == sorted(
        ["get_current_time", "check_inventory"] * 2
    )


async def test_the_export_keeps_to_since_and_until(live_server: BackgroundServer) -> None:
    base = live_server.url
    await _converse(base, "range-1")
    stored = await stored_events(base, "range-1")
    since, until = stored[2]["created_at"], stored[5]["created_at"]
    async with httpx.AsyncClient(base_url=base) as http:
        answer = await http.get("/events/export", params={"since": since, "until": until})
        bad = await http.get("/events/export", params={"since": "yesterday"})
        other = await http.get("/events/export", params={"format": "xml"})
    assert [row["id"] for row in _events_frame(answer.text, "jsonl").to_dict("records")] == [
        event["id"] for event in stored[2:5]
    ]
    assert bad.status_code == 422 and other.status_code == 422


async def test_the_transcript_in_markdown_shows_the_conversation_with_its_tools(
    live_server: BackgroundServer,
) -> None:
    base = live_server.url
    await _converse(base, "transcript-1")
    stored = await stored_events(base, "transcript-1")
    async with httpx.AsyncClient(base_url=base) as http:
        md = await http.get("/sessions/transcript-1/transcript")
        lines = await http.get("/sessions/transcript-1/transcript", params={"format": "jsonl"})
        unknown = await http.get("/sessions/nobody-here/transcript")
        wrong = await http.get("/sessions/transcript-1/transcript", params={"format": "pdf"})
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    text = md.text
    assert text.startswith("# Session `transcript-1`")
    assert "→ tool call `get_current_time`" in text
    assert "← tool result `check_inventory`" in text
    assert "> What time is it?" in text
    assert '> Do we have any "mice", with `backticks`,\n> in stock?' in text
    answers = [e["content"] for e in stored if e["event_type"] == "assistant_message"]
    assert all(f"> {answer}" in text for answer in answers)
    order = [text.index("What time is it?"), text.index("get_current_time"), text.index(answers[0])]
    assert order == sorted(order)
    rows = _events_frame(lines.text, "jsonl").to_dict("records")
    assert [row["id"] for row in rows] == [event["id"] for event in stored]
    assert unknown.status_code == 404 and wrong.status_code == 422


def test_inline_code_holds_any_backticks() -> None:
    assert formats.code("plain") == "`plain`"
    assert formats.code("a `b` c") == "``a `b` c``"
    assert formats.code("`x``") == "``` `x`` ```"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_signed_in_user_exports_and_reads_only_their_own_sessions(
    settings: Settings, server_factory: ServerFactory
) -> None:
    values: dict[str, Any] = {
        "api_key": SecretStr(KEY),
        "auth_jwt_secret": SecretStr(JWT_SECRET),
        "auth_jwt_issuer": ISSUER,
    }
    server = server_factory(settings.model_copy(update=values))
    ann, bob = hs256_token("ann"), hs256_token("bob")
    await _converse(server.url, "ann-1", token=ann)
    await _converse(server.url, "bob-1", token=bob)

    def client(token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {token}"})

    async with client(ann) as http:
        own = _events_frame((await http.get("/events/export")).text, "jsonl")
        named = await http.get("/events/export", params={"user_id": "bob"})
        theirs = await http.get("/sessions/bob-1/transcript")
    async with client(KEY) as http:
        every = _events_frame((await http.get("/events/export")).text, "jsonl")
        bobs = _events_frame((await http.get("/events/export?user_id=bob")).text, "jsonl")
    assert set(own["session_id"]) == {"ann-1"}
    assert named.status_code == 403 and theirs.status_code == 404
    assert set(every["session_id"]) == {"ann-1", "bob-1"}
    assert set(bobs["session_id"]) == {"bob-1"}
