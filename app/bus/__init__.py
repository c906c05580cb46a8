"""The session log's shared part (sequence numbers, live tail, fan-out), one file per backend."""

from __future__ import annotations

from app.bus.base import SessionLog
from app.bus.memory import MemoryLog
from app.config import Settings


def build_log(settings: Settings) -> SessionLog:
    """The log backend the settings ask for (the in-memory one, for a single process)."""
    del settings  # one backend so far; a Redis one is picked here once it exists
    return MemoryLog()
