"""`/ws/session/{session_id}`: one conversation per connection; this layer only serialises."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketState

from app.api.auth import (
    CLOSE_POLICY,
    CLOSE_STORAGE_DOWN,
    Handshake,
    admit_user_message,
    open_handshake,
)
from app.api.deps import get_provider, get_settings, get_summarizer, get_tools
from app.api.outbox import Outbox
from app.chat.conversation import ChatOptions, Conversation
from app.chat.events import Cancel, ErrorFrame, Ping, Pong, UserMessage, parse_client_frame
from app.store.base import SESSION_ID_PATTERN, Store, StoreError

log = logging.getLogger(__name__)
router = APIRouter(tags=["websocket"])

_SESSION_ID = re.compile(SESSION_ID_PATTERN)
CLOSE_ALREADY_CONNECTED = 4409


@router.websocket("/ws/session/{session_id}")
async def session_socket(
    websocket: WebSocket, session_id: str, user_id: str | None = None, token: str | None = None
) -> None:
    """A user's conversation session: user messages in, streamed answers out."""
    if not _SESSION_ID.match(session_id):
        await websocket.close(CLOSE_POLICY, "invalid session_id or user_id")
        return
    handshake = await open_handshake(websocket, session_id, user_id=user_id, token=token)
    if handshake is None:
        return
    live: dict[str, SessionConnection] = websocket.app.state.live_sessions
    if not await _previous_has_finished(live.get(session_id)) or session_id in live:
        await websocket.accept(handshake.subprotocol)
        await websocket.close(CLOSE_ALREADY_CONNECTED, "session already has a live connection")
        return
    connection = SessionConnection(websocket, session_id, handshake)
    live[session_id] = connection
    try:
        await websocket.accept(handshake.subprotocol)
        await connection.run()
    finally:
        del live[session_id]


async def _previous_has_finished(previous: SessionConnection | None) -> bool:
    """True when no other connection holds the session, waiting briefly for one that is closing."""
    if previous is None:
        return True
    if not previous.closing:
        return False
    # A reload reconnects while the old socket is still ending the session.
    try:
        await asyncio.wait_for(previous.finished.wait(), timeout=5)
    except TimeoutError:
        return False
    return True


class SessionConnection:
    """The receive loop of one connection and its one answer task at a time."""

    def __init__(self, websocket: WebSocket, session_id: str, handshake: Handshake) -> None:
        self._ws = websocket
        self._session_id = session_id
        self._user_id = handshake.user_id
        self._settings = get_settings(websocket)
        self._store: Store = handshake.store
        self._summarizer = get_summarizer(websocket)
        self._outbox = Outbox(websocket)
        self._answer: asyncio.Task[None] | None = None
        self._conversation: Conversation | None = None
        self.closing = False
        self.finished = asyncio.Event()

    async def run(self) -> None:
        """Open the conversation, serve frames until disconnect, then end the session."""
        try:
            await self._serve()
        finally:
            self.finished.set()

    async def _serve(self) -> None:
        reason = "client closed"
        try:
            self._conversation, started = await Conversation.open(
                session_id=self._session_id,
                user_id=self._user_id,
                store=self._store,
                provider=get_provider(self._ws),
                tools=get_tools(self._ws),
                options=ChatOptions(
                    system_prompt=self._settings.system_prompt,
                    max_tool_rounds=self._settings.llm_max_tool_rounds,
                ),
            )
        except StoreError as exc:
            await self._refuse(exc)
            return
        self._outbox.put(started)
        try:
            await self._receive_loop()
        except Exception:
            reason = "server error"
            log.exception("session %s failed", self._session_id)
        finally:
            self.closing = True
            await self._end(reason)

    async def _receive_loop(self) -> None:
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self._outbox.put(
                    ErrorFrame(code="invalid_message", message="send text frames, not binary")
                )
                continue
            self._dispatch(text)

    def _dispatch(self, text: str) -> None:
        frame = parse_client_frame(text, max_chars=self._settings.max_message_chars)
        if isinstance(frame, ErrorFrame):
            self._outbox.put(frame)
        elif isinstance(frame, Ping):
            self._outbox.put(Pong())
        elif isinstance(frame, Cancel):
            if self._answer is not None and not self._answer.done():
                self._answer.cancel()
        elif isinstance(frame, UserMessage):
            if self._answer is not None and not self._answer.done():
                self._outbox.put(
                    ErrorFrame(code="busy", message="an answer is still streaming; wait or cancel")
                )
                return
            self._answer = asyncio.get_running_loop().create_task(self._reply(frame.content))

    async def _reply(self, text: str) -> None:
        assert self._conversation is not None
        refused = await admit_user_message(self._ws, self._user_id)
        if refused is not None:
            self._outbox.put(refused)
            return
        turn = self._conversation.reply(text)
        try:
            async for event in turn:
                self._outbox.put(event)
        except asyncio.CancelledError:
            if turn.done is not None:
                self._outbox.put(turn.done)
            raise
        except StoreError as exc:
            log.warning("session %s: storage failed: %s", self._session_id, exc)
            self._outbox.put(
                ErrorFrame(code="storage_unavailable", message="the message could not be stored")
            )
        except Exception:
            log.exception("session %s: answer failed", self._session_id)
            self._outbox.put(
                ErrorFrame(code="internal_error", message="the answer failed; try again")
            )

    async def _end(self, reason: str) -> None:
        """Stop the answer (its partial text is stored), end the session, summarise it."""
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
            await asyncio.gather(self._answer, return_exceptions=True)
        connected = self._ws.client_state == WebSocketState.CONNECTED
        if connected:
            await self._outbox.flush_and_close()
        else:
            self._outbox.abort()
        try:
            assert self._conversation is not None
            await self._conversation.close(reason=reason)
            await self._store.end_session(self._session_id, end_time=datetime.now(UTC))
        except StoreError as exc:
            log.warning("session %s could not be ended: %s", self._session_id, exc)
            return
        self._summarizer.schedule(self._session_id)

    async def _refuse(self, exc: StoreError) -> None:
        log.warning("session %s refused: %s", self._session_id, exc)
        self._outbox.put(
            ErrorFrame(code="storage_unavailable", message="storage is unavailable; try again")
        )
        await self._outbox.flush_and_close()
        await self._ws.close(CLOSE_STORAGE_DOWN, "storage unavailable")
