"""The live sessions of this process: joining them, ending orphans, draining at shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from app.chat.opening import open_session
from app.chat.orphans import end_orphan, end_orphans
from app.chat.services import HeldElsewhere as HeldElsewhere
from app.chat.services import NotHere as NotHere
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


class _KeyedLocks:
    """One lock per session id, dropped once nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Registry:
    """One Session object per live session id; connections join through here."""

    def __init__(self, services: SessionServices, *, sweep_seconds: float = 30.0) -> None:
        self.services = services
        self._sessions: dict[str, Session] = {}
        self._locks = _KeyedLocks()
        self._unended: set[str] = set()
        self._sweep_seconds = sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None
        self._draining = False

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def live_ids(self) -> list[str]:
        """The ids of the sessions live in this process."""
        return list(self._sessions)

    def abandon(self, session_id: str) -> None:
        """Stop a session another process has taken over."""
        session = self._sessions.get(session_id)
        if session is not None:
            session.abandon()
            self._forget(session)  # a new connection opens it afresh, from storage

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
        relayed: bool = False,
    ) -> Session:
        """Join `subscriber` to its session; Refused, or StoreError when storage is down.

        With an `owner` (a signed-in user), a session of anyone else is refused as unknown
        (4404) before it is claimed or replayed, whatever the mode. With leases, a session
        another process holds raises HeldElsewhere; a `relayed` connection (from another
        process) to a session not live here raises NotHere.
        """
        if self._draining:
            raise Refused(CLOSE_SHUTTING_DOWN, "the server is shutting down")
        session = await self._session(
            session_id, user_id=user_id, mode=mode, owner=owner, relayed=relayed
        )
        if owner is not None and session.user_id != owner:
            raise Refused(CLOSE_UNKNOWN_SESSION, "session not found")
        session.joining += 1
        try:
            session.claim(subscriber, mode)
            try:
                # The replay needs nothing the activation writes: it is queued first, and goes
                # out while the activation is written; the connection's frames are read only
                # once the session is active.
                try:
                    await session.join(subscriber, after_seq=after_seq)
                finally:
                    if mode != "observe":
                        await session.activate()
            except BaseException:
                session.leave(subscriber)
                raise
        finally:
            session.joining -= 1
        return session

    async def _session(
        self,
        session_id: str,
        *,
        user_id: str,
        mode: ConnectionMode,
        owner: str | None,
        relayed: bool,
    ) -> Session:
        async with self._locks.hold(session_id):
            session = self._sessions.get(session_id)
            if session is not None:
                return session
            if relayed:
                raise NotHere(session_id)
            await self._lease(session_id)
            try:
                session = await open_session(
                    self.services,
                    session_id=session_id,
                    user_id=user_id,
                    create=mode != "observe",
                    owner=owner,
                )
            except BaseException as exc:
                await self._release(session_id)
                if isinstance(exc, NotFound):
                    raise Refused(CLOSE_UNKNOWN_SESSION, "session not found") from None
                raise
            session.on_idle = self._forget
            session.on_end_failed = self._unended.add
            self._sessions[session_id] = session
            return session

    async def _lease(self, session_id: str) -> None:
        leases = self.services.leases
        if leases is not None:
            holder = await leases.acquire(session_id)
            if holder is not None:
                raise HeldElsewhere(holder)

    async def _release(self, session_id: str) -> None:
        """Give the lease up (called with the id's lock held, the session not live here)."""
        if self.services.leases is not None:
            try:
                await self.services.leases.release(session_id)
            except StoreError as exc:  # it expires by itself
                log.warning("session %s: lease not released: %s", session_id, exc)

    def _forget(self, session: Session) -> None:
        if self._sessions.get(session.session_id) is session:
            del self._sessions[session.session_id]
            asyncio.get_running_loop().create_task(self._let_go(session.session_id))

    async def _let_go(self, session_id: str) -> None:
        async with self._locks.hold(session_id):
            if session_id in self._sessions:
                return  # a connection opened it again meanwhile
            await self.services.log.forget(session_id)
            await self._release(session_id)

    # Orphans: at start-up, and sessions whose end could not be written.

    def start_sweeping(self) -> None:
        """End what earlier runs left active, then keep retrying ends that failed."""
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def sweep(self) -> int:
        """End every session left active and not live here (or anywhere); how many were ended."""
        if self.services.leases is None:
            ended = await end_orphans(self.services.store, self.services.summarizer, live=self)
        else:
            ended = 0
            for session_id in await self.services.leases.orphans():
                ended += await self._end_unheld(session_id)
        self._unended = {sid for sid in self._unended if sid in self._sessions}
        return ended

    async def _end_unheld(self, session_id: str) -> bool:
        """Take the lease of a session nobody holds and end it (its process died)."""
        async with self._locks.hold(session_id):
            if session_id in self._sessions:
                return False
            try:
                await self._lease(session_id)
            except HeldElsewhere:
                return False  # another process took it a moment ago
            try:
                services = self.services

                async def parts() -> dict[str, str]:
                    return await services.log.streamed_parts(session_id)

                return await end_orphan(services.store, services.summarizer, session_id, parts)
            finally:
                await self._release(session_id)

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
