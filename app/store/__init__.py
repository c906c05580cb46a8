"""Storage behind one interface; the backend is chosen once from the settings."""

from __future__ import annotations

from collections.abc import Callable

from app.config import Settings
from app.store.base import Store


def _sql(settings: Settings) -> Store:
    from app.store.sql import SqlStore

    return SqlStore(settings.sql_url, pool_size=settings.db_pool_size)


def _supabase(settings: Settings) -> Store:
    from app.store.supabase_rest import SupabaseStore

    return SupabaseStore.from_settings(settings)


BACKENDS: dict[str, Callable[[Settings], Store]] = {"sql": _sql, "supabase": _supabase}


def build_store(settings: Settings) -> Store:
    """Make the store the settings ask for (not yet opened)."""
    return BACKENDS[settings.storage_backend](settings)
