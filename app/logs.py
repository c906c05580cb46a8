"""Keep the API key out of server logs: WebSocket clients pass it as `?token=` in the URL."""

from __future__ import annotations

import logging
import re

_TOKEN = re.compile(r"(?<=[?&]token=)[^&\s\"]+")
# uvicorn logs each WebSocket handshake with its query string on these loggers.
LOGGERS = ("uvicorn.error", "uvicorn.access")


class TokenRedaction(logging.Filter):
    """Replaces the value of every `token=` query parameter in a record with `***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message's arguments (or the message itself) and keep the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN.sub("***", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = _TOKEN.sub("***", record.msg)
        return True


def redact_tokens_in_server_logs() -> None:
    """Install the redaction on uvicorn's loggers once per process."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedaction) for f in logger.filters):
            logger.addFilter(TokenRedaction())
