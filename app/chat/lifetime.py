"""A session's life in storage: started or resumed when a writer comes, ended and summarised
once it has had no writer and no answer for the grace period."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from app.chat.services import SessionServices
from app.store.base import NewEvent, StoreError

log = logging.getLogger(__name__)


class Lifetime:
    """Marks one session active and, when it falls idle, ends it (once at a time)."""

    def __init__(
        self,
        services: SessionServices,
        *,
        session_id: str,
        user_id: str,
        fresh: bool,
        idle: Callable[[], bool],
        last_written: Callable[[], asyncio.Future[bool] | None],
        on_failed: Callable[[], None],
        on_ended: Callable[[], None],
    ) -> None:
        """`idle` says whether the session has no writer and no answer; `last_written` is the
        write of its latest answer (awaited before the end is stored); `on_failed` runs when
        the end could not be stored, `on_ended` after every try to end it."""
        self.active = False
        self._services = services
        self._session_id = session_id
        self._user_id = user_id
        self._fresh = fresh  # created active a moment ago: a start, no reopen
        self._idle = idle
        self._last_written = last_written
        self._on_failed = on_failed
        self._on_ended = on_ended
        self.ending: asyncio.Task[None] | None = None
        self._grace: asyncio.TimerHandle | None = None

    async def activate(self) -> bool:
        """Mark the session active, after any end still being written; True when it resumed
        an ended one."""
        if self.ending is not None:
            await asyncio.shield(self.ending)
        if self.active:
            return False
        store = self._services.store
        start = NewEvent(
            session_id=self._session_id,
            event_type="session_start",
            metadata={"resumed": not self._fresh, "user_id": self._user_id},
        )
        resumed = not self._fresh
        if self._fresh:
            self._fresh = False
            await store.add_event(start)
        else:
            await asyncio.gather(store.reopen_session(self._session_id), store.add_event(start))
        self.active = True
        return resumed

    def keep(self) -> None:
        """A writer has come: the grace period, if running, ends without ending the session."""
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    def check_idle(self, *, grace_over: bool = False) -> None:
        """End the session if it is active and idle: at once, or after the grace period."""
        if not self.active or not self._idle():
            return
        if self.ending is not None or self._grace is not None:
            return
        grace = self._services.grace_seconds
        if grace > 0 and not grace_over:
            self._grace = asyncio.get_running_loop().call_later(grace, self._grace_over)
        else:
            self.ending = asyncio.get_running_loop().create_task(self._end("client closed"))

    def _grace_over(self) -> None:
        self._grace = None
        self.check_idle(grace_over=True)

    async def _end(self, reason: str) -> None:
        self.active = False
        try:
            written = self._last_written()
            if written is not None:
                await asyncio.wait({written})
            store = self._services.store
            await store.add_event(
                NewEvent(
                    session_id=self._session_id,
                    event_type="session_end",
                    metadata={"reason": reason},
                )
            )
            ended = await store.end_session(self._session_id, end_time=datetime.now(UTC))
            self._services.summarizer.schedule(self._session_id, ended)
        except StoreError as exc:
            log.warning("session %s could not be ended yet: %s", self._session_id, exc)
            self._on_failed()
        finally:
            self.ending = None
            self._on_ended()
