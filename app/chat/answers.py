"""A session's answers: the one running, those waiting behind it, and the task that runs them."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from app.chat.answer import Answer
from app.vocabulary import OnBusy

log = logging.getLogger(__name__)


class AnswerQueue:
    """Runs one answer at a time, in order; an answer is stored before the next one starts."""

    def __init__(
        self,
        *,
        limit: int,
        trim: Callable[[int], Coroutine[Any, Any, None]],
        on_idle: Callable[[], None],
    ) -> None:
        self._limit = limit
        self._trim = trim
        self._on_idle = on_idle
        self.current: Answer | None = None
        self._waiting: deque[Answer] = deque()
        self._worker: asyncio.Task[None] | None = None
        self.last_written: asyncio.Future[bool] | None = None
        self._trim_through = 0

    @property
    def busy(self) -> bool:
        """True while an answer runs or waits."""
        return self.current is not None

    def refusal(self, on_busy: OnBusy) -> str | None:
        """Why a message sent now with `on_busy` is refused (`busy`), if it is."""
        if self.current is None or on_busy == "interrupt":
            return None
        if on_busy == "reject":
            return "an answer is still streaming; wait, cancel, or send with on_busy"
        if len(self._waiting) >= self._limit:
            return f"{self._limit} messages are waiting already"
        return None

    def place(self, answer: Answer, on_busy: OnBusy) -> None:
        """Run `answer` now, after the others (`enqueue`), or next, cancelling the current."""
        current = self.current
        if current is None:
            self.current = answer
            self._worker = asyncio.get_running_loop().create_task(self._work())
        elif on_busy == "interrupt":
            self._waiting.appendleft(answer)
            current.cancel()
        else:
            self._waiting.append(answer)

    def cancel_current(self) -> None:
        """Stop the answer being generated; the waiting ones go on."""
        if self.current is not None:
            self.current.cancel()

    def cancel_all(self) -> None:
        """Stop the current answer and every waiting one (each still ends with its done)."""
        for answer in (self.current, *self._waiting):
            if answer is not None:
                answer.cancel()

    async def settle(self, timeout: float) -> None:
        """Wait up to `timeout` s for the answers; then cancel them and wait for their done."""
        worker = self._worker
        if worker is None:
            return
        await asyncio.wait({worker}, timeout=timeout)
        self.cancel_all()
        await asyncio.wait({worker})

    async def _work(self) -> None:
        while (answer := self.current) is not None:
            if self.last_written is not None and not self.last_written.done():
                # Keeps the stored order question, answer, question, answer.
                await asyncio.wait({self.last_written})
            try:
                done = await answer.run()
            except Exception:
                log.exception("answer %s failed", answer.message_id)
            else:
                self.last_written = answer.written
                answer.written.add_done_callback(self._trimmer(self._trim_through))
                self._trim_through = done.seq or 0
            self.current = self._waiting.popleft() if self._waiting else None
        self._worker = None
        self._on_idle()

    def _trimmer(self, through_seq: int) -> Callable[[asyncio.Future[bool]], None]:
        # Once an answer is stored, the one before it leaves memory: replay reads it back.
        def trim(written: asyncio.Future[bool]) -> None:
            if through_seq and not written.cancelled() and written.result():
                asyncio.get_running_loop().create_task(self._trim(through_seq))

        return trim
