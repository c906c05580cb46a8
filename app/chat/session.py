"""A live session: owns its history, answers, queue and connections from open to end."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from app import metrics
from app.chat.answer import Answer, AnswerContext
from app.chat.answers import AnswerQueue
from app.chat.compaction import Compactor
from app.chat.context import ContextWindow, window_from_events
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
from app.chat.loading import load_state
from app.chat.records import client_message_ids
from app.chat.replay import Encoded, StoredFrames, opened
from app.chat.services import CLOSE_ALREADY_CONNECTED as CLOSE_ALREADY_CONNECTED
from app.chat.services import CLOSE_SHUTTING_DOWN as CLOSE_SHUTTING_DOWN
from app.chat.services import CLOSE_TAKEN_OVER as CLOSE_TAKEN_OVER
from app.chat.services import CLOSE_UNKNOWN_SESSION as CLOSE_UNKNOWN_SESSION
from app.chat.services import Refused as Refused
from app.chat.services import SessionServices as SessionServices
from app.chat.subscriber import Subscriber
from app.store.base import NewEvent, StoreError
from app.vocabulary import ConnectionMode

log = logging.getLogger(__name__)


class Session:
    """One session in this process; the answer belongs to it, not to any connection."""

    def __init__(
        self,
        services: SessionServices,
        *,
        session_id: str,
        user_id: str,
        resumed: bool,
        window: ContextWindow,
        known: dict[str, str],
        last_seq: int,
        active: bool,
        stored: StoredFrames,
    ) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.resumed = resumed
        self.active = active
        self.last_seq = last_seq
        self.writer: Subscriber | None = None
        self.joining = 0
        self.closing = False  # the server is draining: no new answers
        self.on_idle: Callable[[Session], None] = lambda session: None
        self.on_end_failed: Callable[[str], None] = lambda session_id: None
        self._fresh = not resumed
        self._services = services
        self._window = window
        self._known = known
        self._subscribers: set[Subscriber] = set()
        self._answers = AnswerQueue(
            limit=services.queue_limit, trim=self._trim, on_idle=self._check_idle
        )
        self._ending: asyncio.Task[None] | None = None
        self._grace: asyncio.TimerHandle | None = None
        # What a replay sends of the finished turns: seeded at open, then each frame fanned out.
        self._stored = stored
        self._stop_listening = services.log.listen(session_id, self._fan_out)
        self._ctx = AnswerContext(
            session_id=session_id,
            store=services.store,
            writer=services.writer,
            provider=services.provider,
            tools=services.tools,
            options=services.options,
            publish=self._publish,
            window=window,
            compactor=Compactor(
                session_id=session_id,
                store=services.store,
                writer=services.writer,
                provider=services.provider,
                publish=self._publish,
            ),
        )

    @classmethod
    async def open(
        cls,
        services: SessionServices,
        *,
        session_id: str,
        user_id: str,
        create: bool,
        owner: str | None = None,
    ) -> Session:
        """Load a known session (NotFound unless `create`), or create it; not yet activated.

        With an `owner`, a session of anyone else is NotFound, before its events are read.
        """
        options = services.options
        state = await load_state(
            services.store,
            session_id,
            user_id,
            create=create,
            owner=owner,
            context_tokens=options.context_tokens,
            parts=lambda: services.log.streamed_parts(session_id),
        )
        events, created = state.events, state.created
        last = await services.log.open(session_id, floor=state.floor)
        session = cls(
            services,
            session_id=session_id,
            user_id=state.record.user_id,
            resumed=not created,
            window=window_from_events(
                system_prompt=options.system_prompt,
                context_tokens=options.context_tokens,
                events=events,
            ),
            known=client_message_ids(events),
            last_seq=last,
            active=False,
            stored=opened(events, complete=state.complete),
        )
        return session

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
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None

    async def activate(self) -> None:
        """Mark the session active (resuming it), after any end still being written."""
        if self._ending is not None:
            await asyncio.shield(self._ending)
        if self.active:
            return
        store = self._services.store
        start = NewEvent(
            session_id=self.session_id,
            event_type="session_start",
            metadata={"resumed": not self._fresh, "user_id": self.user_id},
        )
        if self._fresh:
            self._fresh = False  # created active a moment ago
            await store.add_event(start)
        else:
            await asyncio.gather(store.reopen_session(self.session_id), store.add_event(start))
            self.resumed = True
        self.active = True

    async def join(self, subscriber: Subscriber, *, after_seq: int | None) -> None:
        """Send `session.started`, the replay after `after_seq`, then live frames."""
        subscriber.hold()
        self._subscribers.add(subscriber)
        subscriber.reply(
            SessionStarted(
                session_id=self.session_id,
                user_id=self.user_id,
                resumed=self.resumed,
                history=self._window.message_count,
                last_seq=self.last_seq,
                mode=subscriber.mode,
            )
        )
        self.resumed = True  # whoever joins from now on finds a known session
        try:
            if after_seq is not None:
                stored, live = await self._replay(after_seq)
                metrics.replayed(len(stored) + len(live))
                for seq, text in stored:
                    await subscriber.outbox.wait_for_room()
                    subscriber.replay_encoded(seq, text)
                for frame in live:
                    await subscriber.outbox.wait_for_room()
                    subscriber.replay(frame)
        finally:
            subscriber.release()
            self._stored.let_go_of_open()  # kept only for a first connection's replay

    def leave(self, subscriber: Subscriber) -> None:
        """A connection has gone; the writer's going may stop the answer and end the session."""
        self._subscribers.discard(subscriber)
        if subscriber is self.writer:
            self.writer = None
            if subscriber.on_disconnect == "cancel":
                self._answers.cancel_all()
            self._check_idle()
        elif not self._subscribers and not self.active:
            self._idle()

    async def _replay(self, after_seq: int) -> tuple[list[Encoded], list[ConversationFrame]]:
        """The finished turns' frames above `after_seq` (encoded), then the log's tail."""
        tail = await self._services.log.tail(self.session_id, after_seq=after_seq)
        if after_seq + 1 >= tail.first_seq:
            return [], tail.frames
        # Everything below the tail is stored and, from the open or the fan-out, held here.
        await self._stored.reach_down(self._services.store, self.session_id, to_seq=after_seq)
        return self._stored.between(after_seq, tail.first_seq), tail.frames

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
        answer = Answer(self._ctx, echo)
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

    def _check_idle(self, *, grace_over: bool = False) -> None:
        if self.writer is not None or self._answers.busy or not self.active:
            return
        if self._ending is not None or self._grace is not None:
            return
        grace = self._services.grace_seconds
        if grace > 0 and not grace_over:
            self._grace = asyncio.get_running_loop().call_later(grace, self._grace_over)
        else:
            self._ending = asyncio.get_running_loop().create_task(self._end("client closed"))

    def _grace_over(self) -> None:
        self._grace = None
        self._check_idle(grace_over=True)

    async def _end(self, reason: str) -> None:
        self.active = False
        try:
            written = self._answers.last_written
            if written is not None:
                await asyncio.wait({written})
            store = self._services.store
            await store.add_event(
                NewEvent(
                    session_id=self.session_id,
                    event_type="session_end",
                    metadata={"reason": reason},
                )
            )
            ended = await store.end_session(self.session_id, end_time=datetime.now(UTC))
            self._services.summarizer.schedule(self.session_id, ended)
        except StoreError as exc:
            log.warning("session %s could not be ended yet: %s", self.session_id, exc)
            self.on_end_failed(self.session_id)
        finally:
            self._ending = None
            if not self._subscribers and not self.joining:
                self._idle()

    def abandon(self) -> None:
        """Another process took the session over (this one was paused past its lease): stop.

        Its connections are closed so they reconnect to the new holder; nothing more is
        ended or summarised here.
        """
        self.closing = True
        self.active = False
        self._answers.cancel_all()
        for subscriber in tuple(self._subscribers):
            subscriber.close(CLOSE_SHUTTING_DOWN, "the session moved to another process")

    @property
    def ending(self) -> asyncio.Task[None] | None:
        """The end being written, if any."""
        return self._ending

    def _idle(self) -> None:
        if self.joining or self._subscribers or self.active or self._answers.busy:
            return
        self._stop_listening()
        self.on_idle(self)
