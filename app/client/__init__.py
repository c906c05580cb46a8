"""A client of the service: its WebSocket conversations and its REST API (no pandas, no server).

The notebooks, the benchmarks and the tests all talk to a running server through this package.
"""

from app.client.rest import BackendClient
from app.client.session import ChatLog, Frame, FrameHandler, converse, ends_turn, receive, ws_url

__all__ = [
    "BackendClient",
    "ChatLog",
    "Frame",
    "FrameHandler",
    "converse",
    "ends_turn",
    "receive",
    "ws_url",
]
