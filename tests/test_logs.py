"""The API key passed as `?token=` never reaches the server's log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pydantic import SecretStr
from websockets.asyncio.client import connect

from app.background import BackgroundServer
from app.config import Settings
from app.logs import redact_query_tokens
from tests.wsclient import open_session, receive


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


@pytest.mark.parametrize("name", ["%74oken", "tok%65n", "%74%6F%6B%65%6E"])
async def test_a_percent_encoded_token_authenticates_and_is_redacted(
    settings: Settings, name: str
) -> None:
    locked = settings.model_copy(update={"api_key": SecretStr("super-secret-key")})
    server = BackgroundServer(locked, log_level="info")
    with recording("uvicorn.error") as uvicorn_log, server:
        url = server.url.replace("http", "ws", 1) + f"/ws/session/enc?{name}=super-secret-key"
        async with connect(url) as ws:
            assert (await receive(ws))["type"] == "session.started"
    accepted = [line for line in uvicorn_log.lines if "/ws/session/enc" in line]
    assert accepted and all(f"{name}=***" in line for line in accepted)
    assert not any("super-secret-key" in line for line in uvicorn_log.lines)


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("/ws/s?user_id=a&token=K", "/ws/s?user_id=a&token=***"),
        ("/ws/s?%74oken=K&x=1", "/ws/s?%74oken=***&x=1"),
        ("/ws/s?token=A&token=B", "/ws/s?token=***&token=***"),
        ('"WebSocket /ws/s?to%6Ben=K" 403', '"WebSocket /ws/s?to%6Ben=***" 403'),
        ("/ws/s?tokens=K&my_token=K&token", "/ws/s?tokens=K&my_token=K&token"),
        ("no query here", "no query here"),
    ],
)
def test_redaction_reads_the_query_as_the_server_parses_it(text: str, redacted: str) -> None:
    assert redact_query_tokens(text) == redacted
