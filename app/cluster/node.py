"""This process as one of several: its id, Redis, leases, relay, and the loop that keeps them.

Every `lease_seconds / 3` one loop renews this process's leases; another ends the sessions whose
holder died (the registry's sweep takes their leases first), schedules the summaries an
end is still missing, and lets go of relayed connections whose other process is gone.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.bus.redis import SEQ_BLOCK, RedisLog
from app.chat.registry import Registry
from app.chat.summarizer import Summarizer
from app.cluster.relay import Relay
from app.config import Settings
from app.store.base import Store, StoreError
from app.store.leases import LeaseStore
from app.store.sql import SqlStore

log = logging.getLogger(__name__)


class Node:
    """The shared parts one process of the service uses; `start` once the registry exists."""

    def __init__(self, settings: Settings, store: Store) -> None:
        if not isinstance(store, SqlStore) or settings.redis_url is None:
            raise ValueError("several processes need REDIS_URL and DATABASE_URL on PostgreSQL")
        self.node_id = uuid.uuid4().hex[:12]
        self._settings = settings
        self.client = redis.Redis.from_url(
            settings.redis_url, socket_timeout=2, socket_connect_timeout=2
        )
        self.leases = LeaseStore(
            store,
            holder=self.node_id,
            lease_seconds=settings.session_lease_seconds,
            seq_block=SEQ_BLOCK,
        )
        self.log = RedisLog(
            self.client,
            prefix=settings.redis_prefix,
            reserve=self._reserve,
            replay_seconds=settings.stream_replay_seconds,
        )
        self.relay: Relay | None = None
        self._loops: list[asyncio.Task[None]] = []
        self._registry: Registry | None = None
        self._summarizer: Summarizer | None = None

    @property
    def period(self) -> float:
        """Seconds between two rounds of renewing, recovering and checking peers."""
        return self._settings.session_lease_seconds / 3

    async def _reserve(self, session_id: str, floor: int, block: int) -> int:
        return await self.leases.reserve(session_id, floor=floor, block=block)

    def start(self, registry: Registry, summarizer: Summarizer) -> None:
        """Listen for relayed connections and start the upkeep loop."""
        self._registry = registry
        self._summarizer = summarizer
        self.relay = Relay(
            self.client,
            prefix=self._settings.redis_prefix,
            node_id=self.node_id,
            registry=registry,
            outbox_frames=self._settings.ws_outbox_frames,
        )
        self.relay.start()
        loop = asyncio.get_running_loop()
        # Renewing on its own: a slow sweep must never let this process's leases lapse.
        self._loops = [
            loop.create_task(self._every_period(self._renew)),
            loop.create_task(self._every_period(self._recover, self._summaries, self._peers)),
        ]

    async def ping(self) -> None:
        """Raise RedisError when Redis cannot be reached."""
        await self.client.ping()

    async def close(self) -> None:
        """Stop the loop, close relayed connections, free this process's leases."""
        for task in self._loops:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        if self.relay is not None:
            await self.relay.close()
        await self.log.close()
        try:
            await self.leases.release_all()
        except StoreError as exc:  # they expire by themselves
            log.warning("leases not released at shutdown: %s", exc)
        await self.client.aclose()

    async def _every_period(self, *steps: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(self.period)
            for step in steps:
                try:
                    await step()
                except (StoreError, RedisError, OSError) as exc:
                    log.warning("cluster upkeep (%s) failed: %s", step.__name__, exc)

    async def _renew(self) -> None:
        held = await self.leases.renew()
        registry = self._registry
        if registry is None:
            return
        for session_id in [sid for sid in registry.live_ids() if sid not in held]:
            # Renewal fails only once another process took the lease over (and the session).
            log.error("session %s: lease lost (this process was paused past it)", session_id)
            registry.abandon(session_id)

    async def _recover(self) -> None:
        if self._registry is not None:
            ended = await self._registry.sweep()
            if ended:
                log.info("ended %d sessions whose process had died", ended)

    async def _summaries(self) -> None:
        if self._summarizer is not None:
            for session_id in await self.leases.unsummarised():
                self._summarizer.schedule(session_id)

    async def _peers(self) -> None:
        if self.relay is None:
            return
        for peer in self.relay.peers():
            if not await self.relay.alive(peer):
                log.warning("process %s is gone: its relayed connections are closed", peer)
                await self.relay.drop_peer(peer)
