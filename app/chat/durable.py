"""Writes that must not be lost: tried at once, then retried with back-off until stored."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.store.base import InvalidValue, NewEvent, NotFound, Store, StoreError

log = logging.getLogger(__name__)


class DurableWriter:
    """Stores events; one that fails is kept and retried in the background, never dropped."""

    def __init__(self, store: Store, *, first_delay: float = 0.2, max_delay: float = 5.0) -> None:
        self._store = store
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._retrying: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        """How many events wait for the database to come back."""
        return len(self._retrying)

    async def write(
        self, event: NewEvent, *, on_failure: Callable[[], Awaitable[None]] | None = None
    ) -> bool:
        """Store `event` now; if that fails, retry it in the background and say False."""
        try:
            await self._store.add_event(event)
            return True
        except NotFound:
            log.warning("event for deleted session %s dropped", event.session_id)
            return True
        except InvalidValue as exc:
            # Refused as it is, it would be refused again: retrying cannot store it.
            log.error("event of session %s refused by the database: %s", event.session_id, exc)
            if on_failure is not None:
                await on_failure()
            return False
        except StoreError as exc:
            log.warning("event of session %s not stored yet: %s", event.session_id, exc)
        task = asyncio.get_running_loop().create_task(self._retry(event))
        self._retrying.add(task)
        task.add_done_callback(self._retrying.discard)
        if on_failure is not None:
            await on_failure()
        return False

    async def drain(self, timeout: float) -> None:
        """Give the retries up to `timeout` seconds, then stop them (logged)."""
        if not self._retrying:
            return
        _done, late = await asyncio.wait(set(self._retrying), timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            log.error("shutdown: %d events could not be stored", len(late))

    async def _retry(self, event: NewEvent) -> None:
        delay = self._first_delay
        while True:
            await asyncio.sleep(delay)
            try:
                await self._store.add_event(event)
            except (NotFound, InvalidValue):
                return
            except StoreError:
                delay = min(delay * 2, self._max_delay)
                continue
            log.info("event of session %s stored after a retry", event.session_id)
            return
