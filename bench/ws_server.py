"""The benchmark's server: the real app plus a bare WebSocket route as the floor.

`/ws/bare/{session_id}` answers each text frame with the same frames a naive relay
of the local model sends (one `assistant.delta` per word, then `assistant.done`),
with no model and no storage. Run: python bench/ws_server.py PORT WS LOOP
(settings such as DATABASE_URL come from the environment).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config import load_settings  # noqa: E402
from app.main import create_app  # noqa: E402

ANSWER_TEXT = (
    "You asked about the benchmark. As the local model I run without a network, so ta"
    "ke this as a starting point rather than an answer: write down what you already k"
    "now, list what is still unclear, and try the smallest step that would tell you m"
    "ore about it, then compare notes."
)
ANSWER_WORDS = ANSWER_TEXT.split(" ")


def build() -> FastAPI:
    """The app with the bare route added."""
    app = create_app(load_settings())

    @app.websocket("/ws/bare/{session_id}")
    async def bare(websocket: WebSocket, session_id: str) -> None:
        await websocket.accept()
        await websocket.send_text(json.dumps({"type": "session.started", "session_id": session_id}))
        try:
            while True:
                await websocket.receive_text()
                pieces = [w if i == 0 else " " + w for i, w in enumerate(ANSWER_WORDS)]
                for piece in pieces:
                    frame = {"type": "assistant.delta", "message_id": "m", "delta": piece}
                    await websocket.send_text(json.dumps(frame))
                done = {
                    "type": "assistant.done",
                    "message_id": "m",
                    "content": "".join(pieces),
                    "finish_reason": "stop",
                    "usage": None,
                }
                await websocket.send_text(json.dumps(done))
        except WebSocketDisconnect:
            return

    return app


if __name__ == "__main__":
    port, ws, loop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    uvicorn.run(
        build(),
        host="127.0.0.1",
        port=port,
        ws=ws,
        loop=loop,
        log_level="warning",
        backlog=4096,
        ws_per_message_deflate=False,
    )
