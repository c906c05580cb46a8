"""The live sessions of this process: joining them, ending orphans, draining at shutdown."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from app.chat.orphans import end_orphans
from app.chat.session import (
    CLOSE_SHUTTING_DOWN,
    CLOSE_UNKNOWN_SESSION,
    Refused,
    Session,
    SessionServices,
)
from app.chat.subscriber import Subscriber
from app.store.base import NotFound, StoreError
from app.vocabulary import ConnectionMode

log = logging.getLogger(__name__)


class Registry:
    """One Session object per live session id; connections join through here."""

    def __init__(self, services: SessionServices, *, sweep_seconds: float = 30.0) -> None:
        self.services = services
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._unended: set[str] = set()
        self._sweep_seconds = sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None
        self._draining = False

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def get(self, session_id: str) -> Session | None:
        """The live session with this id, if any."""
        return self._sessions.get(session_id)

    async def connect(
        self,
        subscriber: Subscriber,
        *,
        session_id: str,
        user_id: str,
        mode: ConnectionMode,
        after_seq: int | None,
        owner: str | None = None,
    ) -> Session:
        """Join `subscriber` to its session; Refused, or StoreError when storage is down.

        With an `owner` (a signed-in user), a session of anyone else is refused as unknown
        (4404) before it is claimed or replayed, whatever the mode.
        """
        if self._draining:
            raise Refused(CLOSE_SHUTTING_DOWN, "the server is shutting down")
        session = await self._session(session_id, user_id=user_id, mode=mode, owner=owner)
        if owner is not None and session.user_id != owner:
            raise Refused(CLOSE_UNKNOWN_SESSION, "session not found")
        session.joining += 1
        try:
            session.claim(subscriber, mode)
            try:
                if mode != "observe":
                    await session.activate()
                await session.join(subscriber, after_seq=after_seq)
            except BaseException:
                session.leave(subscriber)
                raise
        finally:
            session.joining -= 1
        return session

    async def _session(
        self, session_id: str, *, user_id: str, mode: ConnectionMode, owner: str | None
    ) -> Session:
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            session = self._sessions.get(session_id)
            if session is not None:
                return session
            try:
                session = await Session.open(
                    self.services,
                    session_id=session_id,
                    user_id=user_id,
                    create=mode != "observe",
                    owner=owner,
                )
            except NotFound:
                self._locks.pop(session_id, None)
                raise Refused(CLOSE_UNKNOWN_SESSION, "session not found") from None
            session.on_idle = self._forget
            session.on_end_failed = self._unended.add
            self._sessions[session_id] = session
            return session

    def _forget(self, session: Session) -> None:
        if self._sessions.get(session.session_id) is session:
            del self._sessions[session.session_id]
            self._locks.pop(session.session_id, None)
            asyncio.get_running_loop().create_task(self.services.log.forget(session.session_id))

    # Orphans: at start-up, and sessions whose end could not be written.

    def start_sweeping(self) -> None:
        """End what earlier runs left active, then keep retrying ends that failed."""
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def sweep(self) -> int:
        """End every session left active and not live here; how many were ended."""
        ended = await end_orphans(self.services.store, self.services.summarizer, live=self)
        self._unended = {sid for sid in self._unended if sid in self._sessions}
        return ended

    async def _sweep_forever(self) -> None:
        done_once = False
        while True:
            if not done_once or self._unended:
                try:
                    await self.sweep()
                    done_once = True
                except StoreError as exc:
                    log.warning("orphaned sessions not ended yet: %s", exc)
            await asyncio.sleep(self._sweep_seconds if done_once else 1.0)

    # Shutdown.

    async def drain(self, timeout: float) -> None:
        """Let running answers finish within `timeout`, cancel the rest, send every done."""
        self._draining = True
        sessions = list(self._sessions.values())
        for session in sessions:
            session.closing = True
        await asyncio.gather(*(s.settle(timeout) for s in sessions), return_exceptions=True)
        await asyncio.gather(*(s.flush(timeout) for s in sessions), return_exceptions=True)

    async def close(self) -> None:
        """Stop sweeping and wait for the ends being written."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with suppress(asyncio.CancelledError):
                await self._sweeper
        endings = [s.ending for s in self._sessions.values() if s.ending is not None]
        if endings:
            await asyncio.wait(endings, timeout=10)
