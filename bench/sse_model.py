"""A paced OpenAI-format model for benchmarks: first token after T ms, then one every D ms.

Stand-in for a real model server (none can run here): `POST /v1/chat/completions` with
`stream: true` answers SSE chunks as the `openai` SDK expects, on an absolute schedule
(token i due at start + T + i x D), so the stand-in's own timing does not drift under load.
Run: python bench/sse_model.py PORT TTFT_MS GAP_MS TOKENS
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route


def build(ttft: float, gap: float, tokens: int) -> Starlette:
    """The app: every request gets the same paced answer."""

    async def completions(request: Request) -> StreamingResponse:
        start = time.monotonic()
        await request.body()

        async def events() -> AsyncIterator[bytes]:
            for i in range(tokens):
                await asyncio.sleep(max(0.0, start + ttft + i * gap - time.monotonic()))
                yield _chunk({"content": "word " if i else "Word "}, None)
            yield _chunk({}, "stop")
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


def _chunk(delta: dict[str, str], finish: str | None) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"


if __name__ == "__main__":
    port, ttft_ms, gap_ms, count = sys.argv[1:5]
    app = build(float(ttft_ms) / 1000, float(gap_ms) / 1000, int(count))
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", loop="uvloop")
