"""The log in this process's memory: one counter, tail and listener list per session."""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable

from app.bus.base import Frame, Listener, Tail
from app.chat.events import AssistantDelta, ConversationFrame


@dataclasses.dataclass(slots=True)
class _Entry:
    last_seq: int
    first_seq: int
    frames: deque[ConversationFrame] = dataclasses.field(default_factory=deque)
    listeners: list[Listener] = dataclasses.field(default_factory=list)


class MemoryLog:
    """The SessionLog of a single process: nothing shared, nothing to connect to."""

    name = "memory"

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def _entry(self, session_id: str) -> _Entry:
        entry = self._entries.get(session_id)
        if entry is None:
            entry = self._entries[session_id] = _Entry(last_seq=0, first_seq=1)
        return entry

    async def open(self, session_id: str, *, floor: int) -> int:
        """Make sure the session's counter is at least `floor`; return its last seq."""
        entry = self._entry(session_id)
        if floor > entry.last_seq:
            entry.last_seq = floor
            if not entry.frames:
                entry.first_seq = floor + 1
        return entry.last_seq

    async def append(self, session_id: str, frame: Frame) -> Frame:
        """Give `frame` the next seq, keep it in the tail, hand it to the listeners; return it."""
        entry = self._entry(session_id)
        entry.last_seq += 1
        numbered = dataclasses.replace(frame, seq=entry.last_seq)
        entry.frames.append(numbered)
        for listener in tuple(entry.listeners):
            listener(numbered)
        return numbered

    async def tail(self, session_id: str, *, after_seq: int) -> Tail:
        """The frames held with a seq above `after_seq`, and from which seq on the tail is whole."""
        entry = self._entry(session_id)
        frames = [f for f in entry.frames if f.seq is not None and f.seq > after_seq]
        return Tail(frames=frames, first_seq=entry.first_seq)

    async def trim(self, session_id: str, *, through_seq: int) -> None:
        """Drop held frames up to `through_seq` (they are stored and replay from storage)."""
        entry = self._entry(session_id)
        while entry.frames and (entry.frames[0].seq or 0) <= through_seq:
            entry.frames.popleft()
        entry.first_seq = max(entry.first_seq, through_seq + 1)

    def listen(self, session_id: str, listener: Listener) -> Callable[[], None]:
        """Call `listener` with each frame appended from now on; returns the way to stop."""
        listeners = self._entry(session_id).listeners
        listeners.append(listener)

        def stop() -> None:
            if listener in listeners:
                listeners.remove(listener)

        return stop

    async def streamed_parts(self, session_id: str) -> dict[str, str]:
        """The text each answer still held had streamed so far, by message_id."""
        parts: dict[str, str] = {}
        entry = self._entries.get(session_id)
        for frame in entry.frames if entry is not None else ():
            if isinstance(frame, AssistantDelta):
                parts[frame.message_id] = parts.get(frame.message_id, "") + frame.delta
        return parts

    async def forget(self, session_id: str) -> None:
        """Release what is held for a session that has ended and has no connection."""
        entry = self._entries.get(session_id)
        if entry is not None and not entry.listeners:
            del self._entries[session_id]
