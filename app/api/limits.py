"""The REST body limit: a request body over `MAX_BODY_BYTES` is refused with 413, unread.

A pure ASGI middleware, so it sees the body as it streams in: a `Content-Length` over the limit is
answered before any byte is read, and a chunked (or lying) body is cut off at the first chunk that
crosses it; at most the limit plus one chunk is ever held.
"""

from __future__ import annotations

from fastapi import HTTPException, status
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE = f"request body over {MAX_BODY_BYTES} bytes (1 MiB)"


class BodyTooLarge(HTTPException):
    """Raised by the counting `receive` once the body crosses the limit.

    An HTTPException, so FastAPI's body parsing passes it on as a 413 instead of a 400.
    """

    def __init__(self) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE, detail=TOO_LARGE)


def declared_length(headers: Headers) -> int | None:
    """The body's `Content-Length`, or None when absent or unreadable (h11 refuses bad ones)."""
    raw = headers.get("content-length")
    return int(raw) if raw is not None and raw.isdigit() else None


class BodyLimit:
    """Refuse HTTP request bodies over `limit` bytes with 413 `{"detail": …}`."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass WebSocket and lifespan traffic through; count an HTTP request's body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = declared_length(Headers(scope=scope))
        if length is not None and length > self.limit:
            await _refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge()
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            # Raised where nothing turned it into a response (a route reading the body itself).
            if started:
                raise
            await _refuse(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    # The rest of the body is never read: uvicorn closes the connection after this answer.
    response = JSONResponse({"detail": TOO_LARGE}, status_code=status.HTTP_413_CONTENT_TOO_LARGE)
    await response(scope, receive, send)
