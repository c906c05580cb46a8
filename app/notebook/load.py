"""Sessions and events into the analysis frames: through the REST API or from the database."""

from __future__ import annotations

from sqlalchemy import select

from app.analysis.frames import Dataset, build_dataset
from app.client.rest import BackendClient
from app.config import to_async_url
from app.notebook.blocking import run_blocking
from app.store.sql import build_engine
from app.store.tables import session_events, sessions


def load_from_api(base_url: str, *, api_key: str | None = None) -> Dataset:
    """Every session and event of a running app, read through its REST API."""
    with BackendClient(base_url, api_key=api_key) as client:
        found = client.sessions()
        events = [event for row in found for event in client.events(row["session_id"])]
    return build_dataset(found, events)


def load_from_export(
    base_url: str,
    *,
    api_key: str | None = None,
    since: str | None = None,
    until: str | None = None,
    user_id: str | None = None,
) -> Dataset:
    """The events of a time range (and of one user) as `/events/export` streams them, and their
    sessions: one request for all the events instead of one per session."""
    with BackendClient(base_url, api_key=api_key) as client:
        events = list(client.export_events(since=since, until=until, user_id=user_id))
        wanted = {event["session_id"] for event in events}
        found = [row for row in client.sessions() if row["session_id"] in wanted]
    return build_dataset(found, events)


def load_from_database(database_url: str) -> Dataset:
    """Every session and event, read straight from the database at `database_url`."""
    return run_blocking(_read_database(database_url))


async def _read_database(database_url: str) -> Dataset:
    engine = build_engine(to_async_url(database_url), pool_size=1)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(select(sessions))
            session_rows = [dict(row) for row in found.mappings()]
            found = await conn.execute(select(session_events).order_by(session_events.c.id))
            event_rows = [dict(row) for row in found.mappings()]
    finally:
        await engine.dispose()
    return build_dataset(session_rows, event_rows)
