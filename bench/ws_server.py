"""The benchmark's server: the real app plus a bare WebSocket route as the floor.

`/ws/bare/{session_id}` answers each text frame with the same frames a naive relay
of the local model sends (one `assistant.delta` per word, then `assistant.done`),
with no model and no storage. `/ws/bare-frames/{count}` sends `session.started` and then
`count` frames shaped like a replay's (a `user.message` and an `assistant.done` by turns,
encoded once at start-up), one send each: the floor of a replay, what the transport and
the client cost. Run: python bench/ws_server.py PORT WS LOOP
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


def replay_shaped_frames(count: int) -> list[str]:
    """`count` encoded frames of a stored session's replay, seq 1 to `count`."""
    frames = []
    for seq in range(1, count + 1):
        message_id = f"msg_{(seq - 1) // 2:06d}"
        if seq % 2:
            frame = {"type": "user.message", "message_id": message_id, "seq": seq}
            frame["content"] = f"Question number {seq // 2}, about the weather?"
        else:
            frame = {"type": "assistant.done", "message_id": message_id, "seq": seq}
            frame.update(content="An answer of a few words. " * 8, finish_reason="stop")
        frames.append(json.dumps(frame))
    return frames


def build() -> FastAPI:
    """The app with the bare route added."""
    app = create_app(load_settings())
    floor_frames = replay_shaped_frames(10_000)

    @app.websocket("/ws/bare-frames/{count}")
    async def bare_frames(websocket: WebSocket, count: int) -> None:
        await websocket.accept()
        await websocket.send_text(json.dumps({"type": "session.started", "last_seq": count}))
        for text in floor_frames[:count]:
            await websocket.send_text(text)
        try:
            await websocket.receive_text()  # until the client closes
        except WebSocketDisconnect:
            return

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
