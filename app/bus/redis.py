"""The log shared by several processes: seqs from database blocks, answers' text in Redis Streams.

The process holding a session's lease is the only one that appends to it, so the counter,
tail and fan-out stay in its memory (MemoryLog): another process replays and tails a
session through its holder (app/cluster/relay.py), and the seqs come from blocks reserved
in the database, so a process that dies can never have given out a seq its successor
gives again. What only Redis keeps is the text each answer being generated has streamed:
its deltas go to the session's stream (`XADD`, bounded by `MAXLEN`), from which another
process stores the cut-off answers of a process that died. The stream writes are batched
in the background, one entry per answer and batch, and never hold an answer up: while
Redis is down they are dropped and the sessions go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from app.bus.base import Frame
from app.bus.memory import MemoryLog
from app.chat.events import AssistantDelta

log = logging.getLogger(__name__)

# (session_id, floor, block) -> the last seq before the reserved block.
Reserve = Callable[[str, int, int], Awaitable[int]]

SEQ_BLOCK = 1000
# A stream's expiry is pushed back at most once per this share of the replay window, so it
# lives between one and 1.1 windows after its last delta (not one PEXPIRE per write).
_REFRESH_SHARE = 10


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisLog(MemoryLog):
    """The SessionLog of a service of several processes sharing Redis and PostgreSQL."""

    name = "redis"

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        reserve: Reserve,
        replay_seconds: float = 600.0,
        max_frames: int = 10_000,
    ) -> None:
        super().__init__()
        self._client = client
        self._prefix = prefix
        self._reserve = reserve
        self._replay_ms = int(replay_seconds * 1000)
        self._max_frames = max_frames
        self._ceilings: dict[str, int] = {}
        self._reserving: dict[str, asyncio.Lock] = {}
        self._refresh_ms = max(1, self._replay_ms // _REFRESH_SHARE)
        self._expires: dict[str, float] = {}
        # Deltas not written yet: (session_id, message_id, seq, text).
        self._pending: list[tuple[str, str, int, str]] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._writer: asyncio.Task[None] | None = None
        self.healthy = True

    def stream_key(self, session_id: str) -> str:
        """The Redis key of a session's stream."""
        return f"{self._prefix}:log:{session_id}"

    async def open(self, session_id: str, *, floor: int) -> int:
        """Start the session's counter above `floor` and above every seq reserved before."""
        last = await super().open(session_id, floor=floor)
        start = await self._reserve(session_id, last, SEQ_BLOCK)
        self._ceilings[session_id] = start + SEQ_BLOCK
        return await super().open(session_id, floor=start)

    async def append(self, session_id: str, frame: Frame) -> Frame:
        """Number the frame from the reserved block, fan it out here; a delta goes to the stream."""
        entry = self._entry(session_id)
        while entry.last_seq >= self._ceilings.get(session_id, 0):
            await self._extend(session_id, entry.last_seq)
        numbered = await super().append(session_id, frame)
        if isinstance(numbered, AssistantDelta):
            self._pending.append(
                (session_id, numbered.message_id, numbered.seq or 0, numbered.delta)
            )
            self._wake.set()
            if self._writer is None:
                self._writer = asyncio.get_running_loop().create_task(self._write_forever())
        return numbered

    async def _extend(self, session_id: str, last: int) -> None:
        lock = self._reserving.setdefault(session_id, asyncio.Lock())
        async with lock:
            if last < self._ceilings.get(session_id, 0):
                return  # another append reserved the next block meanwhile
            start = await self._reserve(session_id, last, SEQ_BLOCK)
            self._ceilings[session_id] = start + SEQ_BLOCK

    async def forget(self, session_id: str) -> None:
        """Release what this process holds for the session (the stream expires by itself)."""
        await super().forget(session_id)
        if session_id not in self._entries:
            self._ceilings.pop(session_id, None)
            self._reserving.pop(session_id, None)
            self._expires.pop(session_id, None)

    async def streamed_parts(self, session_id: str) -> dict[str, str]:
        """The text each answer had streamed, by message_id, as the stream holds it."""
        try:
            entries = await self._client.xrange(self.stream_key(session_id))
        except (RedisError, OSError) as exc:
            log.warning("session %s: streamed parts unreadable: %s", session_id, exc)
            return await super().streamed_parts(session_id)
        parts: dict[str, str] = {}
        for _id, fields in entries or ():
            message_id, text = (fields or {}).get(b"m"), (fields or {}).get(b"d")
            if message_id is not None and text is not None:  # else of another layout
                parts[_text(message_id)] = parts.get(_text(message_id), "") + _text(text)
        return parts

    async def ping(self) -> None:
        """Raise RedisError when Redis cannot be reached."""
        await self._client.ping()

    async def close(self) -> None:
        """Write what is pending (for two seconds at most), then stop the stream writer."""
        if self._writer is None:
            return
        self._closing = True
        self._wake.set()
        _done, late = await asyncio.wait({self._writer}, timeout=2)
        for task in late:
            task.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)
        # A delta appended after this starts a writer again.
        self._writer, self._closing = None, False

    async def _write_forever(self) -> None:
        while self._pending or not self._closing:
            if not self._pending:
                await self._wake.wait()
                self._wake.clear()
                continue
            # Whatever was appended while the last batch was on its way goes as one batch.
            batch, self._pending = self._pending, []
            try:
                await self._write(batch)
                if not self.healthy:
                    log.info("redis is back: session streams are written again")
                self.healthy = True
            except (RedisError, OSError) as exc:
                if self.healthy:
                    log.warning("redis unavailable, session streams not written: %s", exc)
                self.healthy = False

    async def _write(self, batch: list[tuple[str, str, int, str]]) -> None:
        # One entry per answer and batch (its deltas' text joined, id the last seq): at full
        # speed a whole burst of deltas is one XADD instead of one each.
        texts: dict[tuple[str, str], list[str]] = {}
        last: dict[tuple[str, str], int] = {}
        for session_id, message_id, seq, text in batch:
            texts.setdefault((session_id, message_id), []).append(text)
            last[session_id, message_id] = seq
        entries = [
            (session_id, f"{last[session_id, message_id]}-0", message_id, "".join(pieces))
            for (session_id, message_id), pieces in texts.items()
        ]
        now = time.monotonic() * 1000
        pipe = self._client.pipeline(transaction=False)
        adds = []
        for session_id, entry_id, message_id, text in entries:
            # NOMKSTREAM: a stream that is not there (new, expired, or lost by a Redis
            # restart) is made below, with its expiry set from the start.
            adds.append(len(pipe))
            self._add(pipe, session_id, entry_id, message_id, text, nomkstream=True)
            if now - self._expires.get(session_id, -self._refresh_ms) >= self._refresh_ms:
                self._expire(pipe, session_id, now)
        replies = await pipe.execute(raise_on_error=False)
        made = [entry for entry, at in zip(entries, adds, strict=True) if replies[at] is None]
        if made:
            pipe = self._client.pipeline(transaction=False)
            for session_id, entry_id, message_id, text in made:
                self._add(pipe, session_id, entry_id, message_id, text, nomkstream=False)
                self._expire(pipe, session_id, now)
            await pipe.execute(raise_on_error=False)

    def _add(
        self,
        pipe: redis.client.Pipeline,
        session_id: str,
        entry_id: str,
        message_id: str,
        text: str,
        *,
        nomkstream: bool,
    ) -> None:
        key = self.stream_key(session_id)
        fields: dict[FieldT, EncodableT] = {"m": message_id, "d": text}
        pipe.xadd(
            key,
            fields,
            id=entry_id,
            maxlen=self._max_frames,
            approximate=True,
            nomkstream=nomkstream,
        )

    def _expire(self, pipe: redis.client.Pipeline, session_id: str, now: float) -> None:
        # A window plus the refresh period: every delta outlives itself by a whole window.
        pipe.pexpire(self.stream_key(session_id), self._replay_ms + self._refresh_ms)
        self._expires[session_id] = now
