"""The API key passed as `?token=` never reaches the server's log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import SecretStr

from app.background import BackgroundServer
from app.config import Settings
from tests.wsclient import open_session


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def recording(logger_name: str) -> Iterator[_Records]:
    """What one logger emits inside the block."""
    records = _Records()
    logger = logging.getLogger(logger_name)
    logger.addHandler(records)
    try:
        yield records
    finally:
        logger.removeHandler(records)


async def test_the_websocket_token_is_redacted_in_the_log(settings: Settings) -> None:
    locked = settings.model_copy(update={"api_key": SecretStr("super-secret-key")})
    # Built first: uvicorn's logging set-up replaces the handlers a test adds before it.
    server = BackgroundServer(locked, log_level="info")
    with recording("uvicorn.error") as uvicorn_log, server:
        ws, _ = await open_session(server.url, "logged", token="super-secret-key", user_id="ann")
        await ws.close()
    accepted = [line for line in uvicorn_log.lines if "/ws/session/logged" in line]
    assert accepted and all("token=***" in line for line in accepted)
    assert not any("super-secret-key" in line for line in uvicorn_log.lines)
