"""Alembic's entry point: migrate the connection the app passes in, or the configured database.

The app runs migrations itself at start (`app.store.migrations.upgrade_to_head`); the `alembic`
command (alembic.ini at the project root) reaches the database of the environment's settings.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from app.store.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


async def _run_on_settings_database() -> None:
    from app.config import load_settings
    from app.store.sql import build_engine

    engine = build_engine(load_settings().sql_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


def _main() -> None:
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported: run them on a database")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_on_settings_database())


_main()
