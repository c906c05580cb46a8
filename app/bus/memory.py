"""The log in this process's memory: one counter, tail and listener list per session."""

from __future__ import annotations

import dataclasses
from array import array
from collections import deque
from collections.abc import Callable, Iterator

from app.bus.base import Frame, Listener, Tail
from app.chat.events import AssistantDelta, ConversationFrame


@dataclasses.dataclass(slots=True)
class _Deltas:
    """Consecutive deltas of one answer, held as text and numbers rather than frames.

    A tail holds every delta of the live answer and the previous one; as frames they
    would outlive the young garbage collections and make the full ones scan them all.
    """

    message_id: str
    seqs: array[int]
    pieces: list[str]

    def frames(self, after_seq: int) -> Iterator[AssistantDelta]:
        for seq, piece in zip(self.seqs, self.pieces, strict=True):
            if seq > after_seq:
                yield AssistantDelta(message_id=self.message_id, delta=piece, seq=seq)


_Held = ConversationFrame | _Deltas


@dataclasses.dataclass(slots=True)
class _Entry:
    last_seq: int
    first_seq: int
    held: deque[_Held] = dataclasses.field(default_factory=deque)
    listeners: list[Listener] = dataclasses.field(default_factory=list)


def _last_seq(held: _Held) -> int:
    return held.seqs[-1] if isinstance(held, _Deltas) else held.seq or 0


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
            if not entry.held:
                entry.first_seq = floor + 1
        return entry.last_seq

    async def append(self, session_id: str, frame: Frame) -> Frame:
        """Give `frame` the next seq, keep it in the tail, hand it to the listeners; return it."""
        entry = self._entry(session_id)
        entry.last_seq = seq = entry.last_seq + 1
        numbered: ConversationFrame
        if isinstance(frame, AssistantDelta):
            numbered = AssistantDelta(message_id=frame.message_id, delta=frame.delta, seq=seq)
            self._hold_delta(entry, numbered)
        else:
            numbered = dataclasses.replace(frame, seq=seq)
            entry.held.append(numbered)
        for listener in tuple(entry.listeners):
            listener(numbered)
        return numbered  # type: ignore[return-value]  # the same type as `frame`

    @staticmethod
    def _hold_delta(entry: _Entry, delta: AssistantDelta) -> None:
        last = entry.held[-1] if entry.held else None
        if not isinstance(last, _Deltas) or last.message_id != delta.message_id:
            last = _Deltas(delta.message_id, array("q"), [])
            entry.held.append(last)
        last.seqs.append(delta.seq or 0)
        last.pieces.append(delta.delta)

    async def tail(self, session_id: str, *, after_seq: int) -> Tail:
        """The frames held with a seq above `after_seq`, and from which seq on the tail is whole."""
        entry = self._entry(session_id)
        frames: list[ConversationFrame] = []
        for held in entry.held:
            if _last_seq(held) <= after_seq:
                continue
            if isinstance(held, _Deltas):
                frames.extend(held.frames(after_seq))
            else:
                frames.append(held)
        return Tail(frames=frames, first_seq=entry.first_seq)

    async def trim(self, session_id: str, *, through_seq: int) -> None:
        """Drop held frames up to `through_seq` (they are stored and replay from storage)."""
        entry = self._entry(session_id)
        held = entry.held
        while held and _last_seq(held[0]) <= through_seq:
            held.popleft()
        first = held[0] if held else None
        if isinstance(first, _Deltas) and first.seqs[0] <= through_seq:
            keep = next(i for i, seq in enumerate(first.seqs) if seq > through_seq)
            held[0] = _Deltas(first.message_id, first.seqs[keep:], first.pieces[keep:])
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
        for held in entry.held if entry is not None else ():
            if isinstance(held, _Deltas):
                parts[held.message_id] = parts.get(held.message_id, "") + "".join(held.pieces)
        return parts

    async def forget(self, session_id: str) -> None:
        """Release what is held for a session that has ended and has no connection."""
        entry = self._entries.get(session_id)
        if entry is not None and not entry.listeners:
            del self._entries[session_id]
