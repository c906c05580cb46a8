"""Keep the API key out of server logs: WebSocket clients pass it as `?token=` in the URL."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

# The query part of a logged URL: uvicorn writes it raw, as the client sent it.
_QUERY = re.compile(r"\?([^\s\"]*)")
# uvicorn logs each WebSocket handshake with its query string on these loggers.
LOGGERS = ("uvicorn.error", "uvicorn.access")
REDACTED = "***"


def _redact_pair(pair: str) -> str:
    name, equals, _ = pair.partition("=")
    # Compared as the server parses it (`%74oken` and `tok+en`-style spellings included).
    if equals and unquote_plus(name) == "token":
        return f"{name}={REDACTED}"
    return pair


def _redact_query(match: re.Match[str]) -> str:
    return "?" + "&".join(_redact_pair(pair) for pair in match.group(1).split("&"))


def redact_query_tokens(text: str) -> str:
    """`text` with the value of every query parameter that decodes to `token` replaced."""
    return _QUERY.sub(_redact_query, text) if "?" in text else text


class TokenRedaction(logging.Filter):
    """Replaces the value of every `token` query parameter in a record with `***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message's arguments (or the message itself) and keep the record."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query_tokens(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = redact_query_tokens(record.msg)
        return True


def redact_tokens_in_server_logs() -> None:
    """Install the redaction on uvicorn's loggers once per process."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedaction) for f in logger.filters):
            logger.addFilter(TokenRedaction())
