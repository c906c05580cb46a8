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

# How much of the loop's lateness the flush window adds to itself under load.
_WIDENING = 4.0


class LoopLateness:
    """How late the flush timers of this process fire, smoothed: how busy its event loop is."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def observe(self, late: float) -> None:
        """Take one timer's lateness into the moving average (about the last 20 timers)."""
        self.seconds += (max(late, 0.0) - self.seconds) / 20


# One event loop per process: its outboxes share what they see of it.
LATENESS = LoopLateness()


class Outbox:
    """Queues frames for one peer and sends them in order through `send`.

    A delta waits while the previous send is in flight and, with a `flush_window`, until
    that long after the previous delta left (the first of a burst leaves at once); deltas
    of one answer that wait together leave as one frame, with the last one's seq. When
    the loop runs late (load), the window widens with its lateness, up to `widest_window`,
    so that more pieces share a frame when sending costs the most. More
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
        widest_window: float = 0.0,
        lateness: LoopLateness = LATENESS,
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
        self._widest = widest_window
        self._lateness = lateness
        self._last_delta = float("-inf")
        self._due = 0.0
        # A str is a frame already encoded (a replayed one): sent as it is, never merged.
        self._queue: deque[ServerFrame | str] = deque()
        self._ready = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
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
        # A lone delta inside the flush window waits for its timer: no wake-up of the
        # sending task per piece, and the pieces that come meanwhile merge into it.
        if not (isinstance(frame, AssistantDelta) and len(self._queue) == 1 and self._hold()):
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
        self._stop_timer()
        self._task.cancel()

    async def wait_closed(self) -> None:
        """Wait until the sending task has finished."""
        await asyncio.gather(self._task, return_exceptions=True)

    def _hold(self) -> bool:
        """True when a lone delta is all there is to send and the flush window is not over;
        the window's end then wakes the sending task."""
        if not self._window or self._closing is not None or len(self._queue) != 1:
            return False
        if not isinstance(self._queue[0], AssistantDelta):
            return False
        if self._timer is not None:
            return True
        loop = asyncio.get_running_loop()
        due = self._last_delta + self.window
        if due <= loop.time():
            return False
        self._due = due
        self._timer = loop.call_at(due, self._window_over)
        return True

    @property
    def window(self) -> float:
        """The flush window now, in seconds: the configured one, widened under load."""
        if self._widest <= self._window:
            return self._window
        return min(self._widest, self._window + _WIDENING * self._lateness.seconds)

    def _window_over(self) -> None:
        self._timer = None
        self._lateness.observe(asyncio.get_running_loop().time() - self._due)
        self._ready.set()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

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
        self._stop_timer()
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
                    if self._hold():
                        break
                    frames = self._take()
                    delta = any(isinstance(frame, AssistantDelta) for frame in frames)
                    if delta:
                        self._stop_timer()  # it leaves with a frame behind it
                    texts = [f if isinstance(f, str) else encode_frame(f) for f in frames]
                    if self._send_many is not None:
                        await self._send_many(texts)
                    elif self._send is not None:
                        await self._send(texts[0])
                    if len(self._queue) <= self._limit // 2:
                        self._room.set()
                    if delta:
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
