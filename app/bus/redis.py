"""The log shared by several processes: a Redis Stream per session, seqs from database blocks.

The process holding a session's lease is the only one that appends to it, so the counter,
tail and fan-out stay in its memory (MemoryLog) and the seqs come from blocks reserved in
the database: a process that dies can never have given out a seq its successor gives again.
Every numbered frame is also added to the session's stream (`XADD`, bounded by `MAXLEN`,
expiring `replay_seconds` after its last frame), from which another process reads what
an answer had streamed when its process died. Stream writes are batched in the
background and never hold an answer up: while Redis is down they are dropped and the
sessions go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from app.bus.base import Frame
from app.bus.memory import MemoryLog
from app.chat.events import encode_frame

log = logging.getLogger(__name__)

# (session_id, floor, block) -> the last seq before the reserved block.
Reserve = Callable[[str, int, int], Awaitable[int]]

SEQ_BLOCK = 1000
_BATCH = 500


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
        self._pending: asyncio.Queue[tuple[str, int, str]] = asyncio.Queue()
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
        """Number the frame from the reserved block, fan it out here, add it to the stream."""
        entry = self._entry(session_id)
        while entry.last_seq >= self._ceilings.get(session_id, 0):
            await self._extend(session_id, entry.last_seq)
        numbered = await super().append(session_id, frame)
        self._pending.put_nowait((session_id, numbered.seq or 0, encode_frame(numbered)))
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

    async def streamed_parts(self, session_id: str) -> dict[str, str]:
        """The text each answer had streamed, by message_id, as the stream holds it."""
        try:
            entries = await self._client.xrange(self.stream_key(session_id))
        except (RedisError, OSError) as exc:
            log.warning("session %s: streamed parts unreadable: %s", session_id, exc)
            return await super().streamed_parts(session_id)
        parts: dict[str, str] = {}
        for _id, fields in entries or ():
            text = (fields or {})[b"f"]
            for line in (text.encode() if isinstance(text, str) else text).split(b"\n"):
                frame = orjson.loads(line)
                if frame.get("type") == "assistant.delta":
                    message_id = frame["message_id"]
                    parts[message_id] = parts.get(message_id, "") + frame["delta"]
        return parts

    async def ping(self) -> None:
        """Raise RedisError when Redis cannot be reached."""
        await self._client.ping()

    async def close(self) -> None:
        """Write what is queued (briefly), then stop the stream writer."""
        if self._writer is not None:
            if not self._pending.empty():
                await asyncio.wait({asyncio.ensure_future(self._pending.join())}, timeout=2)
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._pending.get()]
            while len(batch) < _BATCH and not self._pending.empty():
                batch.append(self._pending.get_nowait())
            try:
                await self._write(batch)
                if not self.healthy:
                    log.info("redis is back: session streams are written again")
                self.healthy = True
            except (RedisError, OSError) as exc:
                if self.healthy:
                    log.warning("redis unavailable, session streams not written: %s", exc)
                self.healthy = False
            finally:
                for _ in batch:
                    self._pending.task_done()

    async def _write(self, batch: list[tuple[str, int, str]]) -> None:
        # One entry per session and batch (its frames, one JSON text a line, id the last
        # seq): at full speed a whole burst of deltas is one XADD instead of one each.
        grouped: dict[str, list[str]] = {}
        last: dict[str, int] = {}
        for session_id, seq, text in batch:
            grouped.setdefault(session_id, []).append(text)
            last[session_id] = seq
        pipe = self._client.pipeline(transaction=False)
        for session_id, texts in grouped.items():
            key = self.stream_key(session_id)
            fields: dict[FieldT, EncodableT] = {"f": "\n".join(texts)}
            pipe.xadd(
                key, fields, id=f"{last[session_id]}-0", maxlen=self._max_frames, approximate=True
            )
            # Each write pushes the expiry back: the stream outlives its answer by the window.
            pipe.pexpire(key, self._replay_ms)
        await pipe.execute(raise_on_error=False)
