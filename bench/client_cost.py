"""The load client's own CPU per answer: app.client's timed turn against a bare receive loop.

One server process (bench/ws_server.py) and its bare route (51 frames per answer, no model, no
storage). C sessions connect, then each sends M messages, one answer at a time; the client's CPU
is its thread's CPU time over the messages. Clients, interleaved `--runs` times on the same
server: `floor`, a loop that only decodes each frame and counts deltas (what any client must
do), and `app.client`, `ask_timed` (the time of each delta, the longest gap, the end-of-turn
rule), which bench/ws_load.py and the other benchmarks use. Prints CPU µs per
answer and per frame, answers/s, and the ratio to the floor of the same round. Then the same two
loops alone, on a stand-in socket that hands back the bare route's frames with no I/O (the best
of `--runs` batches of 2,000 answers each): the loop's own cost, which the socket's hides.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

import orjson
import uvloop
from websockets.asyncio.client import ClientConnection

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client import ask_timed, open_load_session, user_message  # noqa: E402
from bench.common import print_table  # noqa: E402
from bench.ws_load import Server  # noqa: E402
from bench.ws_server import ANSWER_WORDS  # noqa: E402

# One answer: send the text, read to its end; the number of delta frames.
Ask = Callable[[ClientConnection, str], Awaitable[int]]


async def floor_ask(ws: ClientConnection, text: str) -> int:
    """Decode each frame and count deltas: the least a load client does."""
    await ws.send(user_message(text))
    deltas = 0
    while True:
        kind = orjson.loads(await ws.recv(decode=False))["type"]
        if kind == "assistant.delta":
            deltas += 1
        elif kind == "assistant.done":
            return deltas


async def client_ask(ws: ClientConnection, text: str) -> int:
    """app.client's timed turn."""
    turn = await ask_timed(ws, text)
    turn.done()  # an answer, not a refusal
    return turn.deltas


CLIENTS: dict[str, Ask] = {"floor": floor_ask, "app.client": client_ask}


async def one_load(url: str, ask: Ask, sessions: int, messages: int) -> dict[str, float]:
    """C sessions connect, then all send their messages; CPU and wall time over the messages."""
    run = uuid.uuid4().hex[:8]
    sockets = [
        ws for ws, _ in await asyncio.gather(
            *(open_load_session(f"{url}/ws/bare/c{i}-{run}") for i in range(sessions))
        )
    ]  # fmt: skip

    async def session(ws: ClientConnection) -> int:
        return sum([await ask(ws, f"Tell me about message {m}.") for m in range(messages)])

    began, cpu = time.perf_counter(), time.thread_time()
    frames = sum(await asyncio.gather(*(session(ws) for ws in sockets)))
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - began
    await asyncio.gather(*(ws.close() for ws in sockets))
    answers = sessions * messages
    return {"answers": answers, "frames": frames + answers, "cpu": cpu, "wall": wall}


class ReplayedSocket:
    """Stands in for a connection: each message sent is answered with the bare route's frames."""

    def __init__(self) -> None:
        pieces = [w if i == 0 else " " + w for i, w in enumerate(ANSWER_WORDS)]
        frames: list[dict[str, object]] = [
            {"type": "assistant.delta", "message_id": "m", "delta": piece} for piece in pieces
        ]
        done = {"type": "assistant.done", "message_id": "m", "content": "".join(pieces)}
        frames.append({**done, "finish_reason": "stop"})
        self._frames = [json.dumps(frame).encode() for frame in frames]
        self._next = 0

    async def send(self, message: str) -> None:
        """Start the answer again."""
        self._next = 0

    async def recv(self, decode: bool | None = None) -> bytes:
        """The answer's next frame, undecoded (both loops ask for bytes)."""
        frame = self._frames[self._next]
        self._next += 1
        return frame


async def loop_alone(ask: Ask, answers: int) -> float:
    """The loop's CPU µs per answer on the stand-in socket."""
    ws = cast(ClientConnection, ReplayedSocket())
    cpu = time.thread_time()
    for _ in range(answers):
        await ask(ws, "Tell me.")
    return (time.thread_time() - cpu) / answers * 1e6


async def main() -> None:
    """Interleave the clients `--runs` times against one server; print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", "-c", type=int, default=100)
    parser.add_argument("--messages", "-m", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds")
    args = parser.parse_args()
    print(
        f"workload: {args.sessions} sessions x {args.messages} messages on the bare route "
        f"(51 frames per answer), each client once per round, {args.runs} rounds; client and "
        f"server on this machine ({os.cpu_count()} cores)"
    )
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/c.db", "LOG_LEVEL": "warning"}
        server = Server(env, ws="websockets-sansio", loop="uvloop")
        try:
            await server.wait_ready()
            url = f"ws://127.0.0.1:{server.port}"
            for round_number in range(1, args.runs + 1):
                floor = 0.0
                for name, ask in CLIENTS.items():
                    load = await one_load(url, ask, args.sessions, args.messages)
                    per_answer = load["cpu"] / load["answers"] * 1e6
                    floor = floor or per_answer
                    rows.append(
                        {
                            "round": round_number,
                            "client": name,
                            "CPU us/answer": round(per_answer),
                            "CPU us/frame": round(load["cpu"] / load["frames"] * 1e6, 2),
                            "answers/s": round(load["answers"] / load["wall"], 1),
                            "CPU vs floor": round(per_answer / floor, 3),
                        }
                    )
        finally:
            server.stop()
    print_table("load client CPU", rows)
    best = {name: float("inf") for name in CLIENTS}
    for _ in range(args.runs):
        for name, ask in CLIENTS.items():
            best[name] = min(best[name], await loop_alone(ask, 2000))
    alone = [
        {
            "client": name,
            "CPU us/answer": round(cpu, 1),
            "CPU us/frame": round(cpu / 51, 3),
            "CPU vs floor": round(cpu / best["floor"], 3),
        }
        for name, cpu in best.items()
    ]
    print_table("the receive loop alone (stand-in socket, best batch)", alone)


if __name__ == "__main__":
    uvloop.run(main())
