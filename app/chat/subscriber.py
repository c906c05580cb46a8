"""A connection as its session sees it: writer or observer, with its own bounded outbox."""

from __future__ import annotations

from typing import Literal

from app import metrics
from app.chat.events import ConversationFrame, ServerFrame
from app.chat.outbox import Outbox
from app.vocabulary import OnDisconnect


class Subscriber:
    """Gets the session's frames in seq order, each once, whether live or replayed."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        mode: Literal["write", "observe"] = "write",
        on_disconnect: OnDisconnect = "cancel",
    ) -> None:
        self.outbox = outbox
        self.mode: Literal["write", "observe"] = mode
        self.on_disconnect: OnDisconnect = on_disconnect
        self.last_seq = 0
        self._held: list[ConversationFrame] | None = None

    def hold(self) -> None:
        """Keep live frames back (while a replay is being read)."""
        self._held = []

    def release(self) -> None:
        """Send the frames kept back, skipping those the replay already sent."""
        held, self._held = self._held or [], None
        for frame in held:
            self.deliver(frame)

    def deliver(self, frame: ConversationFrame) -> None:
        """A live conversation frame (kept back while holding)."""
        if self._held is not None:
            self._held.append(frame)
        else:
            self.replay(frame)

    def replay(self, frame: ConversationFrame) -> None:
        """Send a numbered frame unless one at or past its seq has gone out already."""
        if frame.seq is not None:
            if frame.seq <= self.last_seq:
                return
            self.last_seq = frame.seq
        self.outbox.put(frame)

    def replay_encoded(self, seq: int, text: str) -> None:
        """Send a numbered frame already encoded, unless one at or past `seq` has gone out."""
        if seq > self.last_seq:
            self.last_seq = seq
            self.outbox.put_encoded(text)

    def reply(self, frame: ServerFrame) -> None:
        """A frame for this connection only (no seq)."""
        metrics.frame_sent(frame)
        self.outbox.put(frame)

    def close(self, code: int, reason: str) -> None:
        """Close the connection once what is queued has been sent."""
        self.outbox.close(code, reason)
