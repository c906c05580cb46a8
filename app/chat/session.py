"""A live session: owns its history, answers, queue and connections from open to end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from app import metrics
from app.chat.answer import Answer, AnswerContext
from app.chat.answers import AnswerQueue
from app.chat.compaction import Compactor
from app.chat.context import StoredContext
from app.chat.events import (
    Cancel,
    ClientFrame,
    ConversationFrame,
    ErrorFrame,
    Ping,
    Pong,
    SessionStarted,
    UserMessage,
    UserMessageEcho,
)
from app.chat.lifetime import Lifetime
from app.chat.replay import StoredFrames
from app.chat.services import CLOSE_ALREADY_CONNECTED as CLOSE_ALREADY_CONNECTED
from app.chat.services import CLOSE_SHUTTING_DOWN as CLOSE_SHUTTING_DOWN
from app.chat.services import CLOSE_TAKEN_OVER as CLOSE_TAKEN_OVER
from app.chat.services import CLOSE_UNKNOWN_SESSION as CLOSE_UNKNOWN_SESSION
from app.chat.services import Refused as Refused
from app.chat.services import SessionServices as SessionServices
from app.chat.subscriber import Subscriber
from app.vocabulary import ConnectionMode

# Stored frames a replay encodes before it lets them leave (the first go out at once).
_CHUNK = 100


class Session:
    """One session in this process; the answer belongs to it, not to any connection."""

    def __init__(
        self,
        services: SessionServices,
        *,
        session_id: str,
        user_id: str,
        resumed: bool,
        context: StoredContext,
        known: dict[str, str],
        last_seq: int,
        stored: StoredFrames,
    ) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.resumed = resumed
        self.last_seq = last_seq
        self.writer: Subscriber | None = None
        self.joining = 0
        self.closing = False  # the server is draining: no new answers
        self.on_idle: Callable[[Session], None] = lambda session: None
        self.on_end_failed: Callable[[str], None] = lambda session_id: None
        self._services = services
        self._context = context
        self._ctx: AnswerContext | None = None
        self._known = known
        self._subscribers: set[Subscriber] = set()
        self._life = Lifetime(
            services,
            session_id=session_id,
            user_id=user_id,
            fresh=not resumed,
            idle=lambda: self.writer is None and not self._answers.busy,
            last_written=lambda: self._answers.last_written,
            on_failed=lambda: self.on_end_failed(self.session_id),
            on_ended=self._idle,
        )
        self._answers = AnswerQueue(
            limit=services.queue_limit, trim=self._trim, on_idle=self._life.check_idle
        )
        # What a replay sends of the finished turns: seeded at open, then each frame fanned out.
        self._stored = stored
        self._stop_listening = services.log.listen(session_id, self._fan_out)

    def _answer_context(self) -> AnswerContext:
        """What every answer of the session shares; its window is rebuilt on first need."""
        if self._ctx is None:
            services = self._services
            self._ctx = AnswerContext(
                session_id=self.session_id,
                store=services.store,
                writer=services.writer,
                provider=services.provider,
                tools=services.tools,
                options=services.options,
                publish=self._publish,
                window=self._context.window,
                compactor=Compactor(
                    session_id=self.session_id,
                    store=services.store,
                    writer=services.writer,
                    provider=services.provider,
                    publish=self._publish,
                ),
            )
        return self._ctx

    # Connections.

    def claim(self, subscriber: Subscriber, mode: ConnectionMode) -> None:
        """Make `subscriber` the writer (`write`, `takeover`) or leave it an observer."""
        if mode == "observe":
            return
        previous = self.writer
        if previous is not None:
            if mode == "write":
                raise Refused(CLOSE_ALREADY_CONNECTED, "session already has a live connection")
            previous.mode = "observe"  # its leaving must not stop the answer
            previous.close(CLOSE_TAKEN_OVER, "taken over by a newer connection")
        self.writer = subscriber
        self._life.keep()

    async def activate(self) -> None:
        """Mark the session active (resuming it), after any end still being written."""
        if await self._life.activate():
            self.resumed = True

    async def join(self, subscriber: Subscriber, *, after_seq: int | None) -> None:
        """Send `session.started`, the replay after `after_seq`, then live frames."""
        subscriber.hold()
        self._subscribers.add(subscriber)
        subscriber.reply(
            SessionStarted(
                session_id=self.session_id,
                user_id=self.user_id,
                resumed=self.resumed,
                history=self._context.message_count,
                last_seq=self.last_seq,
                mode=subscriber.mode,
            )
        )
        self.resumed = True  # whoever joins from now on finds a known session
        try:
            if after_seq is not None:
                await self._replay(subscriber, after_seq)
        finally:
            subscriber.release()
            self._stored.let_go_of_open()  # kept only for a first connection's replay
            if subscriber is self.writer:
                # The model's context is rebuilt once the replay has been handed to the outbox.
                asyncio.get_running_loop().call_soon(self._answer_context)

    def leave(self, subscriber: Subscriber) -> None:
        """A connection has gone; the writer's going may stop the answer and end the session."""
        self._subscribers.discard(subscriber)
        if subscriber is self.writer:
            self.writer = None
            if subscriber.on_disconnect == "cancel":
                self._answers.cancel_all()
            self._life.check_idle()
        elif not self._subscribers and not self._life.active:
            self._idle()

    async def _replay(self, subscriber: Subscriber, after_seq: int) -> None:
        """Send the finished turns' frames above `after_seq` (encoded), then the log's tail."""
        tail = await self._services.log.tail(self.session_id, after_seq=after_seq)
        sent = 0
        if after_seq + 1 < tail.first_seq:
            # Everything below the tail is stored and, from the open or the fan-out, held here.
            await self._stored.reach_down(self._services.store, self.session_id, to_seq=after_seq)
            low = after_seq
            while True:
                frames, bound = self._stored.next_frames(low, tail.first_seq, count=_CHUNK)
                for seq, text in frames:
                    await subscriber.outbox.wait_for_room()
                    subscriber.replay_encoded(seq, text)
                sent += len(frames)
                if bound >= tail.first_seq:
                    break
                low = max(low, bound - 1)
                await asyncio.sleep(0)  # this chunk leaves while the next one is encoded
        for frame in tail.frames:
            await subscriber.outbox.wait_for_room()
            subscriber.replay(frame)
        metrics.replayed(sent + len(tail.frames))

    # Frames from connections.

    async def handle(self, subscriber: Subscriber, frame: ClientFrame | ErrorFrame) -> None:
        """Act on one parsed client frame."""
        if isinstance(frame, ErrorFrame):
            subscriber.reply(frame)
        elif isinstance(frame, Ping):
            subscriber.reply(Pong())
        elif subscriber is not self.writer:
            subscriber.reply(
                ErrorFrame(code="read_only", message="this connection observes; it cannot send")
            )
        elif isinstance(frame, Cancel):
            self._answers.cancel_current()
        elif isinstance(frame, UserMessage):
            await self._submit(subscriber, frame)

    async def _submit(self, subscriber: Subscriber, message: UserMessage) -> None:
        client_id = message.client_message_id
        if client_id is not None and client_id in self._known:
            subscriber.reply(
                UserMessageEcho(
                    message_id=self._known[client_id],
                    content=message.content,
                    client_message_id=client_id,
                    duplicate=True,
                )
            )
            return
        if self.closing:
            subscriber.reply(
                ErrorFrame(code="shutting_down", message="the server is shutting down; reconnect")
            )
            return
        refusal = self._answers.refusal(message.on_busy)
        if refusal is not None:
            subscriber.reply(ErrorFrame(code="busy", message=refusal))
            return
        message_id = f"msg_{uuid.uuid4().hex[:16]}"
        if client_id is not None:
            self._known[client_id] = message_id
        queued = self._answers.busy and message.on_busy == "enqueue"
        echo = await self._publish(
            UserMessageEcho(
                message_id=message_id,
                content=message.content,
                client_message_id=client_id,
                queued=queued,
            )
        )
        assert isinstance(echo, UserMessageEcho)
        answer = Answer(self._answer_context(), echo)
        answer.store_question()  # at once, not when its turn comes: a queued one survives a crash
        self._answers.place(answer, message.on_busy)

    async def _trim(self, through_seq: int) -> None:
        await self._services.log.trim(self.session_id, through_seq=through_seq)

    async def _publish(self, frame: ConversationFrame) -> ConversationFrame:
        metrics.frame_sent(frame)
        return await self._services.log.append(self.session_id, frame)

    def _fan_out(self, frame: ConversationFrame) -> None:
        self.last_seq = max(self.last_seq, frame.seq or 0)
        self._stored.record(frame)
        for subscriber in tuple(self._subscribers):
            subscriber.deliver(frame)

    @property
    def answering(self) -> bool:
        """True while an answer runs or waits."""
        return self._answers.busy

    async def settle(self, timeout: float) -> None:
        """Wait up to `timeout` s for the answers; then cancel them and wait for their done."""
        await self._answers.settle(timeout)

    async def flush(self, timeout: float) -> None:
        """Send every connection what is queued for it (within `timeout` seconds)."""
        flushes = [asyncio.ensure_future(s.outbox.flush()) for s in self._subscribers]
        if flushes:
            await asyncio.wait(flushes, timeout=timeout)

    # The end.

    @property
    def active(self) -> bool:
        """True from activation until the session's end begins."""
        return self._life.active

    def abandon(self) -> None:
        """Another process took the session over (this one was paused past its lease): stop.

        Its connections are closed so they reconnect to the new holder; nothing more is
        ended or summarised here.
        """
        self.closing = True
        self._life.active = False
        self._answers.cancel_all()
        for subscriber in tuple(self._subscribers):
            subscriber.close(CLOSE_SHUTTING_DOWN, "the session moved to another process")

    @property
    def ending(self) -> asyncio.Task[None] | None:
        """The end being written, if any."""
        return self._life.ending

    def _idle(self) -> None:
        if self.joining or self._subscribers or self.active or self._answers.busy:
            return
        self._stop_listening()
        self.on_idle(self)
