"""`/ws/session/{session_id}`: check, sign in, accept, join the session, then parse and dispatch."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketState

from app import metrics
from app.api.auth import CLOSE_STORAGE_DOWN, admit_user_message, open_handshake
from app.api.deps import get_node, get_registry, get_settings
from app.chat.events import ErrorFrame, UserMessage, parse_client_frame
from app.chat.outbox import CLOSE_POLICY, Outbox
from app.chat.registry import HeldElsewhere
from app.chat.session import Refused, Session
from app.chat.subscriber import Subscriber
from app.cluster.relay import CLOSE_TRY_AGAIN, Relay, Unreachable
from app.cluster.remote import RemoteSession
from app.store.base import StoreError
from app.vocabulary import (
    CONNECTION_MODES,
    ON_DISCONNECT,
    ConnectionMode,
    OnDisconnect,
    is_session_id,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["websocket"])

# A session its holder is letting go of is taken here after a few short tries.
_JOIN_TRIES = 20


def _problem(session_id: str, mode: str, on_disconnect: str, after_seq: int | None) -> str | None:
    """Why the handshake's parameters are refused, if they are (`user_id` is auth's)."""
    if not is_session_id(session_id):
        return "invalid session_id or user_id"
    if mode not in CONNECTION_MODES or on_disconnect not in ON_DISCONNECT:
        return "invalid mode or on_disconnect"
    if after_seq is not None and not 0 <= after_seq < 2**63:
        return "invalid after_seq"
    return None


@router.websocket("/ws/session/{session_id}")
async def session_socket(
    websocket: WebSocket,
    session_id: str,
    user_id: str | None = None,
    token: str | None = None,
    after_seq: int | None = None,
    mode: str = "write",
    on_disconnect: str = "cancel",
) -> None:
    """A user's conversation session: user messages in, streamed answers out."""
    settings = get_settings(websocket)
    problem = _problem(session_id, mode, on_disconnect, after_seq)
    if problem is not None:
        await websocket.close(CLOSE_POLICY, problem)
        return
    handshake = await open_handshake(websocket, user_id=user_id, token=token)
    if handshake is None:
        return
    await websocket.accept(handshake.subprotocol)
    outbox = Outbox(
        websocket.send_text,
        websocket.close,
        limit=settings.ws_outbox_frames,
        flush_window=settings.ws_delta_flush_ms / 1000,
        widest_window=settings.ws_delta_flush_max_ms / 1000,
    )
    subscriber = Subscriber(
        outbox,
        mode="observe" if mode == "observe" else "write",
        on_disconnect=_on_disconnect(on_disconnect),
    )
    session = await _join(
        websocket,
        subscriber,
        session_id,
        handshake.user_id,
        _mode(mode),
        after_seq,
        owner=handshake.principal.owner,
    )
    if session is None:
        await outbox.wait_closed()
        return
    try:
        with metrics.connected("observer" if subscriber.mode == "observe" else "writer"):
            await _receive_loop(websocket, session, subscriber, handshake.user_id)
    except Exception:
        log.exception("session %s: connection failed", session_id)
    finally:
        session.leave(subscriber)
        if websocket.client_state == WebSocketState.CONNECTED:
            await outbox.flush()
        else:
            outbox.abort()


async def _join(
    websocket: WebSocket,
    subscriber: Subscriber,
    session_id: str,
    user_id: str,
    mode: ConnectionMode,
    after_seq: int | None,
    *,
    owner: str | None,
) -> Session | RemoteSession | None:
    registry = get_registry(websocket)
    join = {"session_id": session_id, "user_id": user_id, "mode": mode, "after_seq": after_seq}
    try:
        for attempt in range(_JOIN_TRIES):
            try:
                return await registry.connect(
                    subscriber,
                    session_id=session_id,
                    user_id=user_id,
                    mode=mode,
                    after_seq=after_seq,
                    owner=owner,
                )
            except HeldElsewhere as held:
                relayed = await _relay(websocket).connect(
                    subscriber,
                    holder=held.holder,
                    join={**join, "owner": owner, "on_disconnect": subscriber.on_disconnect},
                )
                if relayed is not None:
                    return relayed
            await asyncio.sleep(0.01 * (attempt + 1))
        raise Unreachable("the session is changing process")
    except Unreachable as exc:
        log.warning("session %s refused: %s", session_id, exc)
        subscriber.close(CLOSE_TRY_AGAIN, "the session's process is unreachable; try again")
    except Refused as refused:
        subscriber.close(refused.code, refused.reason)
    except StoreError as exc:
        log.warning("session %s refused: %s", session_id, exc)
        subscriber.reply(
            ErrorFrame(code="storage_unavailable", message="storage is unavailable; try again")
        )
        subscriber.close(CLOSE_STORAGE_DOWN, "storage unavailable")
    return None


async def _receive_loop(
    websocket: WebSocket, session: Session | RemoteSession, subscriber: Subscriber, user_id: str
) -> None:
    max_chars = get_settings(websocket).max_message_chars
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            subscriber.reply(
                ErrorFrame(code="invalid_message", message="send text frames, not binary")
            )
            continue
        frame = parse_client_frame(text, max_chars=max_chars)
        # Only the writer's messages count: an observer's get `read_only` from the session.
        if isinstance(frame, UserMessage) and subscriber is session.writer:
            refused = await admit_user_message(websocket, user_id)
            if refused is not None:
                subscriber.reply(refused)
                continue
        await session.handle(subscriber, frame)


def _relay(websocket: WebSocket) -> Relay:
    node = get_node(websocket)
    if node is None or node.relay is None:
        raise Unreachable("no relay in a single process")
    return node.relay


def _mode(value: str) -> ConnectionMode:
    return "observe" if value == "observe" else "takeover" if value == "takeover" else "write"


def _on_disconnect(value: str) -> OnDisconnect:
    return "continue" if value == "continue" else "cancel"
