"""A connection's bounded outbox: frames in order from one task; deltas merge behind a slow peer."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from app.chat.events import AssistantDelta, ServerFrame, encode_frame

log = logging.getLogger(__name__)

Send = Callable[[str], Awaitable[None]]
SendMany = Callable[[list[str]], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]

CLOSE_POLICY = 1008


class Outbox:
    """Queues frames for one peer and sends them in order through `send`.

    A delta waits while the previous send is in flight and, with a `flush_window`, until
    that long after the previous delta left (the first of a burst leaves at once); deltas
    of one answer that wait together leave as one frame, with the last one's seq. More
    than `limit` frames waiting means the peer stopped reading: the queue is dropped and
    the peer closed with 1008 (what it missed is stored).
    """

    def __init__(
        self,
        send: Send | None,
        close: Close,
        *,
        limit: int = 1000,
        flush_window: float = 0.0,
        send_many: SendMany | None = None,
    ) -> None:
        """Frames leave through `send`, one a call, or, given `send_many` instead, everything
        waiting in one call (a relay's one message)."""
        if send is None and send_many is None:
            raise TypeError("an outbox needs send or send_many")
        self._send = send
        self._send_many = send_many
        self._close = close
        self._limit = limit
        self._window = flush_window
        self._last_delta = float("-inf")
        # A str is a frame already encoded (a replayed one): sent as it is, never merged.
        self._queue: deque[ServerFrame | str] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._closing: tuple[int, str] | None = None
        self._stopped = False
        self.overflowed = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def open(self) -> bool:
        """True while frames put here may still be sent."""
        return not self._stopped and self._closing is None

    def put(self, frame: ServerFrame) -> None:
        """Queue a frame; merge it into the last one when both are deltas of one answer."""
        if not self.open:
            return
        last = self._queue[-1] if self._queue else None
        if (
            isinstance(frame, AssistantDelta)
            and isinstance(last, AssistantDelta)
            and last.message_id == frame.message_id
        ):
            self._queue[-1] = AssistantDelta(
                message_id=frame.message_id, delta=last.delta + frame.delta, seq=frame.seq
            )
        elif len(self._queue) >= self._limit:
            self._overflow()
            return
        else:
            self._queue.append(frame)
        self._ready.set()

    def put_encoded(self, text: str) -> None:
        """Queue a frame's JSON text as it is (a replay encodes its stored frames once)."""
        if not self.open:
            return
        if len(self._queue) >= self._limit:
            self._overflow()
            return
        self._queue.append(text)
        self._ready.set()

    async def wait_for_room(self) -> None:
        """Wait until at most half of `limit` frames are waiting (a replay feeds in chunks)."""
        while self.open and len(self._queue) > self._limit // 2:
            self._room.clear()
            await self._room.wait()

    def close(self, code: int, reason: str) -> None:
        """Send what is queued, then close the peer with `code`."""
        if self.open:
            self._closing = (code, reason)
            self._ready.set()

    async def flush(self) -> None:
        """Send what is queued and stop, leaving the peer open (its owner closes it)."""
        if self.open:
            self._closing = (0, "")
            self._ready.set()
        await asyncio.gather(self._task, return_exceptions=True)

    def abort(self) -> None:
        """Stop at once, dropping what is queued (the peer is gone)."""
        self._stopped = True
        self._queue.clear()
        self._task.cancel()

    async def wait_closed(self) -> None:
        """Wait until the sending task has finished."""
        await asyncio.gather(self._task, return_exceptions=True)

    async def _held_back(self) -> bool:
        """Wait out the flush window when a lone delta is all there is to send."""
        if not self._window or len(self._queue) != 1:
            return False
        if not isinstance(self._queue[0], AssistantDelta):
            return False
        wait = self._last_delta + self._window - asyncio.get_running_loop().time()
        if wait <= 0:
            return False
        await asyncio.sleep(wait)  # pieces that arrive meanwhile merge into this one
        return True

    def _take(self) -> list[ServerFrame | str]:
        """The next frame, or with `send_many` every frame waiting."""
        if self._send_many is None:
            return [self._queue.popleft()]
        frames = list(self._queue)
        self._queue.clear()
        return frames

    def _overflow(self) -> None:
        # The send in flight may never return (the peer's window is shut): stop it, and
        # close the peer from a task of its own, which leaves as soon as the peer reads.
        log.warning("closing a connection that stopped reading (%d frames waiting)", self._limit)
        self.overflowed = True
        self._stopped = True
        self._queue.clear()
        self._room.set()
        self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(
            self._close_quietly(CLOSE_POLICY, "the client is not reading its frames")
        )

    async def _close_quietly(self, code: int, reason: str) -> None:
        try:
            await self._close(code, reason)
        except Exception as exc:  # the peer may be gone already
            log.debug("close failed: %s", exc)

    async def _run(self) -> None:
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while self._queue:
                    if await self._held_back():
                        continue
                    frames = self._take()
                    texts = [f if isinstance(f, str) else encode_frame(f) for f in frames]
                    if self._send_many is not None:
                        await self._send_many(texts)
                    elif self._send is not None:
                        await self._send(texts[0])
                    if len(self._queue) <= self._limit // 2:
                        self._room.set()
                    if any(isinstance(frame, AssistantDelta) for frame in frames):
                        self._last_delta = asyncio.get_running_loop().time()
                if self._closing is not None:
                    code, reason = self._closing
                    if code:
                        await self._close_quietly(code, reason)
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the peer went away; its receive loop sees it too
            log.debug("send failed: %s", exc)
        finally:
            self._stopped = True
            self._queue.clear()
            self._room.set()
