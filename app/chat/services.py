"""What every session of a process shares, and the refusals a connection can get."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.bus.base import SessionLog
from app.chat.answer import ChatOptions
from app.chat.durable import DurableWriter
from app.chat.summarizer import Summarizer
from app.chat.tools import ToolRegistry
from app.llm.base import Provider
from app.store.base import Store

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


class HeldElsewhere(Exception):
    """Another live process holds the session: its connections are relayed there."""

    def __init__(self, holder: str) -> None:
        super().__init__(f"session held by process {holder}")
        self.holder = holder


class NotHere(Exception):
    """A connection relayed from another process to a session this one does not hold now."""


class Leases(Protocol):
    """One writer process per session across processes (app/store/leases.py)."""

    async def acquire(self, session_id: str) -> str | None:
        """Hold the session here (None), or the id of the live process that holds it."""
        ...

    async def release(self, session_id: str) -> None:
        """Let another process take the session."""
        ...

    async def orphans(self) -> list[str]:
        """Active, connected sessions that no live process holds."""
        ...


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
    # Set when several processes share the database (REDIS_URL): sessions are leased.
    leases: Leases | None = None
