"""The load client the benchmarks drive: many sockets, timed turns, little work per frame.

A load client shares the machine with the server it measures, so its receive loop does only what
the figures need: it decodes each frame from bytes (no text copy), keeps counters and times in one
slotted object, and arms one timeout per turn rather than one per frame.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from websockets.asyncio.client import ClientConnection, connect

from app.client.session import Frame, ends_turn, user_message
from app.vocabulary import ANSWER_END, ServerFrameType

# Hundreds of sockets open at once on a busy machine.
OPEN_TIMEOUT = 120.0
DELTA: ServerFrameType = "assistant.delta"


@dataclass(slots=True)
class TimedTurn:
    """One turn as the client saw it, times in `time.perf_counter` seconds.

    `first_delta` and `longest_gap` are 0.0 when no delta came; `last` is the frame that ended it.
    """

    began: float
    ended: float = 0.0
    first_delta: float = 0.0
    deltas: int = 0
    longest_gap: float = 0.0
    last: Frame | None = None

    def done(self) -> Frame:
        """The `assistant.done` that ended the turn; RuntimeError if an error refused it."""
        if self.last is None or self.last["type"] != ANSWER_END:
            raise RuntimeError(f"the server refused the turn: {self.last}")
        return self.last


async def open_load_session(url: str) -> tuple[ClientConnection, Frame]:
    """Connect a load socket to a session URL; the socket and its first frame.

    No size limit (a long replay), and no keep-alive pings: their timers cost the client, and a
    benchmark's sockets live for one run.
    """
    ws = await connect(url, max_size=None, ping_interval=None, open_timeout=OPEN_TIMEOUT)
    started: Frame = orjson.loads(await ws.recv(decode=False))
    return ws, started


async def ask_timed(ws: ClientConnection, text: str, *, timeout: float | None = 60.0) -> TimedTurn:
    """Send one user message with this text and read to the end of its turn, timing it."""
    clock, recv, loads = time.perf_counter, ws.recv, orjson.loads
    message = user_message(text)
    turn = TimedTurn(began=clock())
    await ws.send(message)
    last_delta = 0.0
    async with asyncio.timeout(timeout):
        while True:
            frame = loads(await recv(False))
            now = clock()
            if frame["type"] == DELTA:
                if turn.deltas:
                    turn.longest_gap = max(turn.longest_gap, now - last_delta)
                else:
                    turn.first_delta = now
                turn.deltas += 1
                last_delta = now
            elif ends_turn(frame):
                turn.ended, turn.last = now, frame
                return turn


async def read_until(
    ws: ClientConnection, last: Callable[[Frame], bool], *, timeout: float | None = 60.0
) -> Frame:
    """Read frames until one passes `last`, and return it; one timeout for the whole wait."""
    recv, loads = ws.recv, orjson.loads
    async with asyncio.timeout(timeout):
        while True:
            frame: Frame = loads(await recv(False))
            if last(frame):
                return frame
