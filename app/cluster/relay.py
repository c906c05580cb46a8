"""Connections reaching a process that does not hold their session, relayed to the one that does.

Each process listens on its own Redis channel. A connection to a session held elsewhere
is joined there as one more subscriber (writer, takeover or observer), so every rule of
the session (4409, 4410, replay, busy, cancel) is decided in one place, by its holder.
The holder sends the connection's frames and its close back over the connection's
process's channel; that process sends its client messages and its leaving.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Literal

import orjson
import redis.asyncio as redis
from redis.exceptions import RedisError

from app.chat.events import ClientFrame, ErrorFrame
from app.chat.outbox import Outbox
from app.chat.registry import NotHere, Registry
from app.chat.services import Refused
from app.chat.subscriber import Subscriber
from app.cluster.remote import RemoteSession
from app.cluster.wire import decode_client_frame, decode_server_frame, encode_client_frame
from app.store.base import StoreError
from app.vocabulary import ConnectionMode

log = logging.getLogger(__name__)

CLOSE_STORAGE_DOWN = 1011
CLOSE_TRY_AGAIN = 1013


class Unreachable(Exception):
    """The process holding the session does not answer (dead, or Redis is down)."""


class _Hosted:
    """A connection of another process, joined to a session of this one."""

    def __init__(self, peer: str, conn: str) -> None:
        self.peer = peer
        self.conn = conn
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None


class Relay:
    """This process's channel: relays its connections out and hosts other processes' in."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str,
        node_id: str,
        registry: Registry,
        outbox_frames: int,
        answer_timeout: float = 5.0,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.node_id = node_id
        self._registry = registry
        self._outbox_frames = outbox_frames
        self._answer_timeout = answer_timeout
        self._remotes: dict[str, RemoteSession] = {}
        self._hosted: dict[str, _Hosted] = {}
        self._listener: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    def channel(self, node_id: str) -> str:
        """The Redis channel a process listens on."""
        return f"{self._prefix}:node:{node_id}"

    def start(self) -> None:
        """Listen on this process's channel (reconnecting while Redis is away)."""
        self._listener = asyncio.get_running_loop().create_task(self._listen_forever())

    async def close(self) -> None:
        """Close every relayed connection (1012) and stop listening."""
        for remote in list(self._remotes.values()):
            remote.subscriber.close(1012, "the server is shutting down")
        for hosted in list(self._hosted.values()):
            await self._send(hosted.peer, {"t": "close", "c": hosted.conn, "code": 1012})
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)

    # This process's connections to sessions held elsewhere.

    async def connect(
        self, subscriber: Subscriber, *, holder: str, join: dict[str, Any]
    ) -> RemoteSession | None:
        """Join `subscriber` on the holder's process; None when it no longer holds the session."""
        conn = uuid.uuid4().hex
        remote = RemoteSession(self, conn=conn, holder=holder, subscriber=subscriber)
        if join["mode"] != "observe":
            remote.writer = subscriber
        self._remotes[conn] = remote
        message = {"t": "open", "c": conn, "from": self.node_id, **join}
        try:
            if not await self._send(holder, message):
                raise Unreachable(f"process {holder} is not listening")
            first = await asyncio.wait_for(asyncio.shield(remote.answered), self._answer_timeout)
        except (TimeoutError, Unreachable):
            self._remotes.pop(conn, None)
            raise Unreachable(f"process {holder} did not answer") from None
        if first == "retry":
            self._remotes.pop(conn, None)
            return None
        return remote

    async def forward(self, remote: RemoteSession, frame: ClientFrame) -> None:
        """Hand a client frame to the session's process."""
        payload = {"t": "in", "c": remote.conn, "frame": encode_client_frame(frame)}
        if not await self._send(remote.holder, payload):
            remote.subscriber.close(CLOSE_TRY_AGAIN, "the session's process is unreachable")

    def left(self, remote: RemoteSession) -> None:
        """The relayed connection closed: tell the holder (from a task of its own)."""
        if self._remotes.pop(remote.conn, None) is not None:
            message = {"t": "leave", "c": remote.conn}
            asyncio.get_running_loop().create_task(self._send(remote.holder, message))

    def peers(self) -> set[str]:
        """The processes this one relays connections with."""
        return {r.holder for r in self._remotes.values()} | {h.peer for h in self._hosted.values()}

    async def drop_peer(self, peer: str) -> None:
        """A process died: close the connections relayed to it, let go of those it relayed."""
        for remote in [r for r in self._remotes.values() if r.holder == peer]:
            self._remotes.pop(remote.conn, None)
            remote.subscriber.close(CLOSE_TRY_AGAIN, "the session's process went away; reconnect")
        for hosted in [h for h in self._hosted.values() if h.peer == peer]:
            hosted.inbox.put_nowait({"t": "leave", "c": hosted.conn})

    async def alive(self, peer: str) -> bool:
        """True while the process listens on its channel."""
        counts = await self._client.pubsub_numsub(self.channel(peer))
        return bool(counts and counts[0][1])

    # Redis.

    async def _send(self, node_id: str, message: dict[str, Any]) -> bool:
        """Publish to a process's channel; False when nobody listens there or Redis is down."""
        try:
            received = await self._client.publish(self.channel(node_id), orjson.dumps(message))
        except (RedisError, OSError) as exc:
            log.debug("relay to %s failed: %s", node_id, exc)
            return False
        return bool(received)

    async def _listen_forever(self) -> None:
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel(self.node_id))
                self.listening.set()
                async for message in pubsub.listen():
                    self._dispatch(orjson.loads(message["data"]))
            except (RedisError, OSError) as exc:
                log.warning("relay channel lost (%s); retrying", exc)
            finally:
                self.listening.clear()
                await asyncio.gather(pubsub.aclose(), return_exceptions=True)  # type: ignore[no-untyped-call]
            # Messages may have been lost: relayed connections cannot trust their order.
            for peer in self.peers():
                await self.drop_peer(peer)
            await asyncio.sleep(0.5)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind, conn = str(message.get("t")), str(message.get("c"))
        if kind in ("open", "in", "leave"):
            self._host(kind, conn, message)
            return
        remote = self._remotes.get(conn)
        if remote is None:
            return
        if kind == "out":
            for text in message["frames"]:
                remote.subscriber.outbox.put(decode_server_frame(text))
        elif kind == "close":
            self._remotes.pop(conn, None)
            remote.subscriber.close(int(message["code"]), str(message.get("reason", "")))
        remote.first(kind)

    # Other processes' connections to sessions held here.

    def _host(self, kind: str, conn: str, message: dict[str, Any]) -> None:
        hosted = self._hosted.get(conn)
        if kind == "open" and hosted is None:
            hosted = self._hosted[conn] = _Hosted(str(message["from"]), conn)
            hosted.task = asyncio.get_running_loop().create_task(self._serve(hosted))
        if hosted is not None:
            hosted.inbox.put_nowait(message)

    async def _serve(self, hosted: _Hosted) -> None:
        subscriber: Subscriber | None = None
        try:
            opening = await hosted.inbox.get()
            subscriber = self._subscriber(hosted, opening)
            session = await self._join(hosted, subscriber, opening)
            if session is None:
                await subscriber.outbox.wait_closed()
                return
            while (message := await hosted.inbox.get())["t"] == "in":
                await session.handle(subscriber, decode_client_frame(message["frame"]))
            session.leave(subscriber)
        except Exception:
            log.exception("relayed connection %s failed", hosted.conn)
        finally:
            if subscriber is not None:
                subscriber.outbox.abort()
            self._hosted.pop(hosted.conn, None)

    def _subscriber(self, hosted: _Hosted, opening: dict[str, Any]) -> Subscriber:
        async def send_many(texts: list[str]) -> None:
            if not await self._send(hosted.peer, {"t": "out", "c": hosted.conn, "frames": texts}):
                hosted.inbox.put_nowait({"t": "leave", "c": hosted.conn})
                raise Unreachable(hosted.peer)

        async def close(code: int, reason: str) -> None:
            await self._send(
                hosted.peer, {"t": "close", "c": hosted.conn, "code": code, "reason": reason}
            )

        # The connection's own process merges deltas for its socket; this side sends at once,
        # whatever is waiting in one message (`session.started` and a replay travel together).
        outbox = Outbox(None, close, limit=self._outbox_frames, send_many=send_many)
        mode: Literal["write", "observe"] = "observe" if opening["mode"] == "observe" else "write"
        return Subscriber(outbox, mode=mode, on_disconnect=opening["on_disconnect"])

    async def _join(self, hosted: _Hosted, subscriber: Subscriber, opening: dict[str, Any]) -> Any:
        mode: ConnectionMode = opening["mode"]
        try:
            return await self._registry.connect(
                subscriber,
                session_id=opening["session_id"],
                user_id=opening["user_id"],
                mode=mode,
                after_seq=opening["after_seq"],
                owner=opening["owner"],
                relayed=True,
            )
        except NotHere:
            await self._send(hosted.peer, {"t": "retry", "c": hosted.conn})
            subscriber.outbox.abort()
        except Refused as refused:
            subscriber.close(refused.code, refused.reason)
        except StoreError as exc:
            log.warning("session %s refused: %s", opening["session_id"], exc)
            subscriber.reply(
                ErrorFrame(code="storage_unavailable", message="storage is unavailable; try again")
            )
            subscriber.close(CLOSE_STORAGE_DOWN, "storage unavailable")
        return None
