"""One writer per socket; deltas that queue up behind a slow socket merge into one frame."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from starlette.websockets import WebSocket

from app.chat.events import AssistantDelta, ServerFrame, encode_frame

log = logging.getLogger(__name__)


class Outbox:
    """Queues frames for one WebSocket and sends them in order from a single task.

    Nothing is held back on purpose: a delta waits only while the previous send is in
    flight, and deltas of one answer that wait together leave as one frame.
    """

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        self._queue: deque[ServerFrame] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    def put(self, frame: ServerFrame) -> None:
        """Queue a frame; merge it into the last one when both are deltas of one answer."""
        if self._closed:
            return
        last = self._queue[-1] if self._queue else None
        if (
            isinstance(frame, AssistantDelta)
            and isinstance(last, AssistantDelta)
            and last.message_id == frame.message_id
        ):
            self._queue[-1] = AssistantDelta(
                message_id=frame.message_id, delta=last.delta + frame.delta
            )
        else:
            self._queue.append(frame)
        self._ready.set()

    async def flush_and_close(self) -> None:
        """Send what is queued, then stop the writer."""
        self._closed = True
        self._ready.set()
        await self._task

    def abort(self) -> None:
        """Stop at once, dropping what is queued (the peer is gone)."""
        self._closed = True
        self._queue.clear()
        self._task.cancel()

    async def _run(self) -> None:
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while self._queue:
                    await self._websocket.send_text(encode_frame(self._queue.popleft()))
                if self._closed:
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket went away; the receive loop sees it too
            log.debug("send failed: %s", exc)
            self._closed = True
            self._queue.clear()
