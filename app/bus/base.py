"""The log interface: numbers a session's conversation frames, keeps the live tail, fans out.

One implementation per backend: memory.py for one process; a shared one (Redis Streams)
implements the same verbs so that the session code never changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from app.chat.events import ConversationFrame

Frame = TypeVar("Frame", bound=ConversationFrame)
# Called with every numbered frame of one session, in seq order; must not raise or block.
Listener = Callable[[ConversationFrame], None]


@dataclass(frozen=True, slots=True)
class Tail:
    """What the log still holds of a session: every frame with `seq >= first_seq`, in order."""

    frames: list[ConversationFrame]
    first_seq: int


class SessionLog(Protocol):
    """Sequence numbers, the in-memory tail and live fan-out of every session's frames."""

    name: str

    async def open(self, session_id: str, *, floor: int) -> int:
        """Make sure the session's counter is at least `floor`; return its last seq."""
        ...

    async def append(self, session_id: str, frame: Frame) -> Frame:
        """Give `frame` the next seq, keep it in the tail, hand it to the listeners; return it."""
        ...

    async def tail(self, session_id: str, *, after_seq: int) -> Tail:
        """The frames held with a seq above `after_seq`, and from which seq on the tail is whole."""
        ...

    async def trim(self, session_id: str, *, through_seq: int) -> None:
        """Drop held frames up to `through_seq` (they are stored and replay from storage)."""
        ...

    def listen(self, session_id: str, listener: Listener) -> Callable[[], None]:
        """Call `listener` with each frame appended from now on; returns the way to stop."""
        ...

    async def streamed_parts(self, session_id: str) -> dict[str, str]:
        """The text each answer still held had streamed so far, by message_id."""
        ...

    async def forget(self, session_id: str) -> None:
        """Release what is held for a session that has ended and has no connection."""
        ...
