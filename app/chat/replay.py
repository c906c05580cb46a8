"""The frames of a live session's finished turns, encoded once, so that a replay reads no storage.

A session opened from storage is seeded with the events its open read (encoded when the
first replay needs them, a chunk at a time in seq order so that the first frames leave
while the rest is encoded; let go of unencoded when its first connection replays nothing);
from then on every numbered frame it fans out is added as it leaves (the deltas excepted:
a replay of a finished answer sends its `assistant.done`, which carries the whole text).
Frames are kept in their stored form (what `event_frame` makes of the stored event), so a
replay sends the same text whether it comes from here or from storage.

An open that read only the log's end (or whose read was let go of) holds every frame
above a known seq; a replay reaching below it reads the rest of the log once, and from
then on holds the whole log.
"""

from __future__ import annotations

import bisect
import dataclasses
import sys

from app.chat.events import AssistantDelta, ConversationFrame, UserMessageEcho, encode_frame
from app.chat.loading import checkpoints
from app.chat.records import event_frame
from app.store.base import EventRecord, Store

# (seq, the frame's JSON text), in seq order.
Encoded = tuple[int, str]

# Events read per step when a replay reaches below what the open read.
_PAGE = 10_000


def opened(events: list[EventRecord], *, complete: bool) -> StoredFrames:
    """The frames of a session just opened from `events` (the whole log when `complete`)."""
    if complete or not events:
        return StoredFrames(events, floor_seq=0, read_below=0)
    marks = checkpoints(events, complete=False)
    floor = marks[0][0] if marks else sys.maxsize
    return StoredFrames(events, floor_seq=floor, read_below=events[0].id)


def stored_form(frame: ConversationFrame) -> ConversationFrame:
    """The frame as a replay from storage rebuilds it (an echo's `queued` is not stored)."""
    if isinstance(frame, UserMessageEcho) and (frame.queued or frame.duplicate):
        return dataclasses.replace(frame, queued=False, duplicate=False)
    return frame


class StoredFrames:
    """A session's numbered frames in seq order as encoded text, whole above `floor_seq`."""

    def __init__(self, events: list[EventRecord], *, floor_seq: int, read_below: int) -> None:
        """Seed from the events an open read; `read_below` is the lowest event id it read
        (0 when it read the whole log) and `floor_seq` the seq above which it holds all."""
        self.floor_seq = floor_seq
        # Below this event id nothing was read (0: nothing left to read; None: the whole log).
        self._read_below: int | None = read_below
        self._seqs: list[int] = []
        self._texts: list[str] = []
        self._opened: list[EventRecord] | None = events or None
        # The open's numbered events in seq order, once a replay needs them, and how many of
        # them are encoded. Frames fanned out since the open all carry higher seqs.
        self._pending: list[tuple[int, EventRecord]] = []
        self._encoded = 0

    def let_go_of_open(self) -> None:
        """Drop the open's events unencoded, if no replay has needed them: a replay reaching
        below the frames fanned out since reads the log (once)."""
        if self._opened is None:
            self._encode_pending(len(self._pending))  # a replay that stopped early
            return
        seqs = [e.metadata.get("seq") for e in self._opened]
        highest = max((seq for seq in seqs if isinstance(seq, int)), default=0)
        self.floor_seq = max(self.floor_seq, highest)
        self._read_below = None
        self._opened = None

    def record(self, frame: ConversationFrame) -> None:
        """Add a frame the session has just fanned out (deltas are left out)."""
        if frame.seq is not None and not isinstance(frame, AssistantDelta):
            self._insert(frame.seq, encode_frame(stored_form(frame)))

    def between(self, after_seq: int, before_seq: int) -> list[Encoded]:
        """The frames with `after_seq < seq < before_seq`, in seq order."""
        self._start_encoding()
        self._encode_pending(len(self._pending))
        return self._held(after_seq, before_seq)

    def next_frames(
        self, after_seq: int, before_seq: int, *, count: int
    ) -> tuple[list[Encoded], int]:
        """The next frames above `after_seq` in seq order, encoding about `count` more of the
        open's events, and the seq below which every frame is given (`before_seq` at the end)."""
        self._start_encoding()
        through = self._encode_pending(count)
        bound = min(before_seq, through + 1)
        return self._held(after_seq, bound), bound

    def _held(self, after_seq: int, before_seq: int) -> list[Encoded]:
        start = bisect.bisect_right(self._seqs, after_seq)
        end = bisect.bisect_left(self._seqs, before_seq, lo=start)
        return list(zip(self._seqs[start:end], self._texts[start:end], strict=True))

    async def reach_down(self, store: Store, session_id: str, *, to_seq: int) -> None:
        """Make sure every frame above `to_seq` is held: read the rest of the log once if not."""
        if to_seq >= self.floor_seq:
            return
        while self._read_below != 0:
            older = await store.tail_events(session_id, limit=_PAGE, before_id=self._read_below)
            self._add_events(older)
            self._read_below = older[0].id if len(older) == _PAGE else 0
        self.floor_seq = 0

    def _start_encoding(self) -> None:
        if self._opened is not None:
            numbered = ((e.metadata.get("seq"), e) for e in self._opened)
            self._pending = sorted(
                ((seq, e) for seq, e in numbered if isinstance(seq, int)), key=lambda p: p[0]
            )
            self._encoded = 0
            self._opened = None

    def _encode_pending(self, count: int) -> int:
        """Encode up to `count` more of the open's events; the highest seq up to which all
        are held (sys.maxsize once none is left)."""
        end = min(len(self._pending), self._encoded + count)
        self._add_events([event for _, event in self._pending[self._encoded : end]])
        self._encoded = end
        if end < len(self._pending):
            return self._pending[end][0] - 1
        self._pending = []
        self._encoded = 0
        return sys.maxsize

    def _add_events(self, events: list[EventRecord]) -> None:
        for event in events:
            frame = event_frame(event)
            if frame is not None and frame.seq is not None:
                self._insert(frame.seq, encode_frame(frame))

    def _insert(self, seq: int, text: str) -> None:
        # Nearly always at the end: a queued message may be stored just before older seqs.
        if not self._seqs or seq > self._seqs[-1]:
            self._seqs.append(seq)
            self._texts.append(text)
            return
        index = bisect.bisect_left(self._seqs, seq)
        if index < len(self._seqs) and self._seqs[index] == seq:
            return  # the store and the fan-out both had it
        self._seqs.insert(index, seq)
        self._texts.insert(index, text)
