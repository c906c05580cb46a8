"""What every session of a process shares, and the refusals a connection can get."""

from __future__ import annotations

from dataclasses import dataclass

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
