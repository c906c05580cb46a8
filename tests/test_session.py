"""A session driven without a socket: a subscriber whose outbox records what it is sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.bus.memory import MemoryLog
from app.chat.answer import ChatOptions
from app.chat.demo_tools import default_registry
from app.chat.durable import DurableWriter
from app.chat.events import Cancel, UserMessage
from app.chat.outbox import Outbox
from app.chat.registry import Registry
from app.chat.session import Session, SessionServices
from app.chat.subscriber import Subscriber
from app.chat.summarizer import Summarizer
from app.llm.local import LocalProvider
from app.store.base import Store


class Recorder:
    """A connection's far end: keeps every frame; `wait_for` blocks until one of a type came."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()

    async def send(self, text: str) -> None:
        async with self._arrived:
            self.frames.append(json.loads(text))
            self._arrived.notify_all()

    async def close(self, code: int, reason: str) -> None:
        """Nothing to close."""

    async def wait_for(self, kind: str, count: int = 1) -> list[dict[str, Any]]:
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.of(kind)) >= count), timeout=10
            )
        return self.frames

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]


def _registry(store: Store, *, delay_ms: float = 0) -> Registry:
    provider = LocalProvider(delay_ms=delay_ms)
    services = SessionServices(
        store=store,
        writer=DurableWriter(store),
        provider=provider,
        tools=default_registry(),
        log=MemoryLog(),
        summarizer=Summarizer(store, provider),
        options=ChatOptions(system_prompt="Be brief."),
    )
    return Registry(services)


@pytest.fixture
async def registry(store: Store) -> AsyncIterator[Registry]:
    """A registry on the store under test."""
    made = _registry(store)
    yield made
    await _shutdown(made)


async def _connect(registry: Registry, session_id: str) -> tuple[Subscriber, Recorder]:
    peer = Recorder()
    subscriber = Subscriber(Outbox(peer.send, peer.close))
    await registry.connect(
        subscriber, session_id=session_id, user_id="ann", mode="write", after_seq=None
    )
    return subscriber, peer


async def _shutdown(registry: Registry) -> None:
    await registry.close()
    await registry.services.summarizer.drain(10)


def _leave(session: Session, subscriber: Subscriber) -> None:
    session.leave(subscriber)
    subscriber.outbox.abort()


async def test_a_message_gets_its_echo_deltas_and_done_and_both_are_stored(
    registry: Registry, store: Store
) -> None:
    subscriber, peer = await _connect(registry, "c-1")
    session = registry.get("c-1")
    assert session is not None
    await session.handle(subscriber, UserMessage(content="How do I reset my password?"))
    frames = await peer.wait_for("assistant.done")
    echo, *deltas, done = frames[1:]
    assert echo["type"] == "user.message" and echo["message_id"] == done["message_id"]
    assert "".join(d["delta"] for d in deltas) == done["content"]
    seqs = [f["seq"] for f in frames[1:]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    _leave(session, subscriber)
    await _shutdown(registry)
    stored = await store.list_events("c-1")
    kinds = [e.event_type for e in stored]
    assert kinds[:3] == ["session_start", "user_message", "assistant_message"]
    assert stored[2].metadata["seq"] == done["seq"]


async def test_cancel_before_the_answer_starts_still_gives_one_done(store: Store) -> None:
    registry = _registry(store, delay_ms=20)
    subscriber, peer = await _connect(registry, "c-2")
    session = registry.get("c-2")
    assert session is not None
    await session.handle(subscriber, UserMessage(content="Tell me about tides."))
    await session.handle(subscriber, Cancel())
    [done] = (await peer.wait_for("assistant.done")) and peer.of("assistant.done")
    assert done["finish_reason"] == "cancelled"
    _leave(session, subscriber)
    await _shutdown(registry)
    answers = [e for e in await store.list_events("c-2") if e.event_type == "assistant_message"]
    assert [a.metadata["finish_reason"] for a in answers] == ["cancelled"]


async def test_a_known_session_opens_with_its_history(registry: Registry) -> None:
    subscriber, peer = await _connect(registry, "c-3")
    session = registry.get("c-3")
    assert session is not None
    await session.handle(subscriber, UserMessage(content="My favourite colour is teal."))
    await peer.wait_for("assistant.done")
    _leave(session, subscriber)
    await _shutdown(registry)
    fresh = _registry(registry.services.store)
    again, peer = await _connect(fresh, "c-3")
    started = (await peer.wait_for("session.started"))[0]
    assert started["resumed"] is True and started["history"] == 2
    assert started["last_seq"] > 0
    reopened = fresh.get("c-3")
    assert reopened is not None
    _leave(reopened, again)
    await _shutdown(fresh)
