"""The SQL store's dialect: chosen once from the URL, with each database's engine settings.

Engines are built without connecting, except the SQLite one whose PRAGMAs are read back.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from app.config import to_async_url
from app.store.base import NewEvent, Unavailable
from app.store.sql import SqlStore, build_engine
from app.store.sql_dialects import PostgresDialect, SqliteDialect, dialect_for


@pytest.mark.parametrize(
    ("raw", "dialect"),
    [
        ("sqlite:///./data/x.db", SqliteDialect),
        ("sqlite+aiosqlite:///:memory:", SqliteDialect),
        ("postgresql://u:p@db.example/app", PostgresDialect),
        ("postgres://u:p@aws-0.pooler.supabase.com:6543/app", PostgresDialect),
    ],
)
def test_the_dialect_is_the_url_database(raw: str, dialect: type[object]) -> None:
    url = to_async_url(raw)
    chosen = dialect_for(url)
    assert isinstance(chosen, dialect)
    assert SqlStore(url).name == chosen.name == url.get_backend_name()


def test_a_database_the_store_does_not_run_on_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="not on 'mysql'") as refused:
        dialect_for(make_url("mysql+aiomysql://u@h/db"))
    assert "postgresql or sqlite" in str(refused.value)


def test_postgres_pool_is_sized_with_its_wait_limit() -> None:
    engine = build_engine(to_async_url("postgresql://u:p@db.example/app"), pool_size=7)
    pool = cast(QueuePool, engine.sync_engine.pool)
    assert (pool.size(), pool.timeout()) == (7, 10)


async def test_sqlite_engine_makes_its_folder_and_sets_the_pragmas(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "folder" / "x.db"
    engine = build_engine(to_async_url(f"sqlite:///{database}"), pool_size=3)
    assert cast(QueuePool, engine.sync_engine.pool).size() == 3
    assert database.parent.is_dir()
    try:
        async with engine.connect() as conn:
            values: list[object] = [
                (await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("foreign_keys", "journal_mode", "synchronous", "busy_timeout")
            ]
    finally:
        await engine.dispose()
    # synchronous=NORMAL reads back as 1.
    assert values == [1, "wal", 1, 10000]


async def test_an_unopened_store_refuses_events_as_unavailable(tmp_path: Path) -> None:
    store = SqlStore(to_async_url(f"sqlite:///{tmp_path / 'x.db'}"))
    event = NewEvent(session_id="s1", event_type="user_message", content="hi")
    with pytest.raises(Unavailable, match="not open"):
        await store.add_event(event)
    await store.close()
