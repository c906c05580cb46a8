"""A session held by another process, as a connection of this one uses it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from app.chat.events import ClientFrame, ErrorFrame, Ping, Pong
from app.chat.subscriber import Subscriber

if TYPE_CHECKING:
    from app.cluster.relay import Relay


class RemoteSession:
    """Stands in for the Session on the holder's process: frames go there, its frames come back."""

    def __init__(self, relay: Relay, *, conn: str, holder: str, subscriber: Subscriber) -> None:
        self.conn = conn
        self.holder = holder
        self.subscriber = subscriber
        # Whether the holder accepted it is decided there; a refused one is closed from there.
        self.writer: Subscriber | None = None
        self._relay = relay
        self.answered: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def first(self, kind: str) -> None:
        """The holder's first answer to the join arrived (a frame, a close, or `retry`)."""
        if not self.answered.done():
            self.answered.set_result(kind)

    async def handle(self, subscriber: Subscriber, frame: ClientFrame | ErrorFrame) -> None:
        """Answer what needs no session here; hand the rest to the holder."""
        if isinstance(frame, ErrorFrame):
            subscriber.reply(frame)
        elif isinstance(frame, Ping):
            subscriber.reply(Pong())
        else:
            await self._relay.forward(self, frame)

    def leave(self, subscriber: Subscriber) -> None:
        """The connection has gone."""
        self._relay.left(self)
