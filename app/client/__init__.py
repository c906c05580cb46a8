"""A client of the service: its WebSocket conversations and its REST API (no pandas, no server).

The notebooks, the benchmarks and the tests all talk to a running server through this package;
`ends_turn` is the one rule for the frame that ends a turn.
"""

from app.client.load import TimedTurn, ask_timed, open_load_session, read_until
from app.client.rest import BackendClient
from app.client.session import (
    ChatLog,
    Frame,
    FrameHandler,
    converse,
    ends_turn,
    read_turn,
    receive,
    refuses,
    user_message,
    ws_url,
)

__all__ = [
    "BackendClient",
    "ChatLog",
    "Frame",
    "FrameHandler",
    "TimedTurn",
    "ask_timed",
    "converse",
    "ends_turn",
    "open_load_session",
    "read_turn",
    "read_until",
    "receive",
    "refuses",
    "user_message",
    "ws_url",
]
