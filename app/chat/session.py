"""A live session: owns its history, answers, queue and connections from open to end."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.bus.base import SessionLog
from app.chat.answer import Answer, AnswerContext, ChatOptions
from app.chat.durable import DurableWriter
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
from app.chat.orphans import close_cut_off_answers
from app.chat.records import client_message_ids, event_frame, history_messages
from app.chat.subscriber import Subscriber
from app.chat.summarizer import Summarizer
from app.chat.tools import ToolRegistry
from app.llm.base import Message, Provider
from app.store.base import AlreadyExists, NewEvent, NotFound, Store, StoreError
from app.vocabulary import ConnectionMode

log = logging.getLogger(__name__)

CLOSE_ALREADY_CONNECTED = 4409
CLOSE_TAKEN_OVER = 4410
CLOSE_UNKNOWN_SESSION = 4404
CLOSE_SHUTTING_DOWN = 1012


class Refused(Exception):
    """A connection the session will not take, with the close code that says why."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SessionServices:
    """What every session of the process shares (injected, so tests build their own)."""

    store: Store
    writer: DurableWriter
    provider: Provider
    tools: ToolRegistry
    log: SessionLog
    summarizer: Summarizer
    options: ChatOptions
    grace_seconds: float = 0.0
    queue_limit: int = 10


class Session:
    """One session in this process; the answer belongs to it, not to any connection."""

    def __init__(
        self,
        services: SessionServices,
        *,
        session_id: str,
        user_id: str,
        resumed: bool,
        history: list[Message],
        known: dict[str, str],
        last_seq: int,
        active: bool,
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
        self._history = history
        self._known = known
        self._subscribers: set[Subscriber] = set()
        self._current: Answer | None = None
        self._queue: deque[Answer] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._ending: asyncio.Task[None] | None = None
        self._grace: asyncio.TimerHandle | None = None
        self._last_written: asyncio.Future[bool] | None = None
        self._trim_through = 0
        self._stop_listening = services.log.listen(session_id, self._fan_out)
        self._ctx = AnswerContext(
            session_id=session_id,
            store=services.store,
            writer=services.writer,
            provider=services.provider,
            tools=services.tools,
            options=services.options,
            publish=self._publish,
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

        With an `owner`, a session of anyone else is NotFound, before anything is read or written.
        """
        store = services.store
        created = False
        if create:
            try:
                record = await store.create_session(session_id=session_id, user_id=user_id)
                created = True
            except AlreadyExists:
                record = await store.get_session(session_id)
        else:
            record = await store.get_session(session_id)
        if owner is not None and record.user_id != owner:
            raise NotFound(f"session '{session_id}' not found")
        events = [] if created else await store.list_events(session_id, limit=100_000)
        floor = await close_cut_off_answers(store, session_id, events) if events else 0
        last = await services.log.open(session_id, floor=floor)
        history = history_messages(events)[-services.options.max_history_messages :]
        return cls(
            services,
            session_id=session_id,
            user_id=record.user_id,
            resumed=not created,
            history=history,
            known=client_message_ids(events),
            last_seq=last,
            active=False,
        )

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
        if self._fresh:
            self._fresh = False  # created active a moment ago
        else:
            await self._services.store.reopen_session(self.session_id)
            self.resumed = True
        self.active = True
        await self._services.store.add_event(
            NewEvent(
                session_id=self.session_id,
                event_type="session_start",
                metadata={"resumed": self.resumed, "user_id": self.user_id},
            )
        )

    async def join(self, subscriber: Subscriber, *, after_seq: int | None) -> None:
        """Send `session.started`, the replay after `after_seq`, then live frames."""
        subscriber.hold()
        self._subscribers.add(subscriber)
        subscriber.reply(
            SessionStarted(
                session_id=self.session_id,
                user_id=self.user_id,
                resumed=self.resumed,
                history=len(self._history),
                last_seq=self.last_seq,
                mode=subscriber.mode,
            )
        )
        self.resumed = True  # whoever joins from now on finds a known session
        try:
            if after_seq is not None:
                for frame in await self._replay(after_seq):
                    subscriber.replay(frame)
        finally:
            subscriber.release()

    def leave(self, subscriber: Subscriber) -> None:
        """A connection has gone; the writer's going may stop the answer and end the session."""
        self._subscribers.discard(subscriber)
        if subscriber is self.writer:
            self.writer = None
            if subscriber.on_disconnect == "cancel":
                self._cancel_all()
            self._check_idle()
        elif not self._subscribers and not self.active:
            self._idle()

    async def _replay(self, after_seq: int) -> list[ConversationFrame]:
        tail = await self._services.log.tail(self.session_id, after_seq=after_seq)
        if after_seq + 1 >= tail.first_seq:
            return tail.frames
        events = await self._services.store.list_events(self.session_id, limit=100_000)
        stored = [
            frame
            for event in events
            if (frame := event_frame(event)) is not None
            and frame.seq is not None
            and after_seq < frame.seq < tail.first_seq
        ]
        stored.sort(key=lambda frame: frame.seq or 0)
        return [*stored, *tail.frames]

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
            if self._current is not None:
                self._current.cancel()
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
        refusal = self._busy_refusal(message)
        if refusal is not None:
            subscriber.reply(ErrorFrame(code="busy", message=refusal))
            return
        message_id = f"msg_{uuid.uuid4().hex[:16]}"
        if client_id is not None:
            self._known[client_id] = message_id
        queued = self._current is not None and message.on_busy == "enqueue"
        echo = await self._publish(
            UserMessageEcho(
                message_id=message_id,
                content=message.content,
                client_message_id=client_id,
                queued=queued,
            )
        )
        assert isinstance(echo, UserMessageEcho)
        self._place(Answer(self._ctx, echo, self._history), message)

    def _busy_refusal(self, message: UserMessage) -> str | None:
        if self._current is None or message.on_busy == "interrupt":
            return None
        if message.on_busy == "reject":
            return "an answer is still streaming; wait, cancel, or send with on_busy"
        if len(self._queue) >= self._services.queue_limit:
            return f"{self._services.queue_limit} messages are waiting already"
        return None

    def _place(self, answer: Answer, message: UserMessage) -> None:
        current = self._current
        if current is None:
            self._current = answer
            self._worker = asyncio.get_running_loop().create_task(self._work())
        elif message.on_busy == "interrupt":
            self._queue.appendleft(answer)
            current.cancel()
        else:
            self._queue.append(answer)

    def _cancel_all(self) -> None:
        for answer in (self._current, *self._queue):
            if answer is not None:
                answer.cancel()

    # Answers.

    async def _work(self) -> None:
        while (answer := self._current) is not None:
            if self._last_written is not None:
                # Keeps the stored order question, answer, question, answer.
                await asyncio.wait({self._last_written})
            try:
                done = await answer.run()
            except Exception:
                log.exception("session %s: answer %s failed", self.session_id, answer.message_id)
            else:
                self._last_written = answer.written
                answer.written.add_done_callback(self._trimmer(self._trim_through))
                self._trim_through = done.seq or 0
            self._current = self._queue.popleft() if self._queue else None
        self._worker = None
        self._check_idle()

    def _trimmer(self, through_seq: int) -> Callable[[asyncio.Future[bool]], None]:
        # Once an answer is stored, the one before it leaves memory: replay reads it back.
        def trim(written: asyncio.Future[bool]) -> None:
            if through_seq and not written.cancelled() and written.result():
                asyncio.get_running_loop().create_task(
                    self._services.log.trim(self.session_id, through_seq=through_seq)
                )

        return trim

    async def _publish(self, frame: ConversationFrame) -> ConversationFrame:
        return await self._services.log.append(self.session_id, frame)

    def _fan_out(self, frame: ConversationFrame) -> None:
        self.last_seq = max(self.last_seq, frame.seq or 0)
        for subscriber in tuple(self._subscribers):
            subscriber.deliver(frame)

    @property
    def answering(self) -> bool:
        """True while an answer runs or waits."""
        return self._current is not None

    async def settle(self, timeout: float) -> None:
        """Wait up to `timeout` s for the answers; then cancel them and wait for their done."""
        worker = self._worker
        if worker is None:
            return
        await asyncio.wait({worker}, timeout=timeout)
        self._cancel_all()
        await asyncio.wait({worker})

    async def flush(self, timeout: float) -> None:
        """Send every connection what is queued for it (within `timeout` seconds)."""
        flushes = [asyncio.ensure_future(s.outbox.flush()) for s in self._subscribers]
        if flushes:
            await asyncio.wait(flushes, timeout=timeout)

    # The end.

    def _check_idle(self, *, grace_over: bool = False) -> None:
        if self.writer is not None or self._current is not None or not self.active:
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
            if self._last_written is not None:
                await asyncio.wait({self._last_written})
            store = self._services.store
            await store.add_event(
                NewEvent(
                    session_id=self.session_id,
                    event_type="session_end",
                    metadata={"reason": reason},
                )
            )
            await store.end_session(self.session_id, end_time=datetime.now(UTC))
            self._services.summarizer.schedule(self.session_id)
        except StoreError as exc:
            log.warning("session %s could not be ended yet: %s", self.session_id, exc)
            self.on_end_failed(self.session_id)
        finally:
            self._ending = None
            if not self._subscribers and not self.joining:
                self._idle()

    @property
    def ending(self) -> asyncio.Task[None] | None:
        """The end being written, if any."""
        return self._ending

    def _idle(self) -> None:
        if self.joining or self._subscribers or self.active or self._current is not None:
            return
        self._stop_listening()
        self.on_idle(self)
