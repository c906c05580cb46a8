"""The load client the benchmarks drive: many sockets, timed turns, little work per frame.

A load client shares the machine with the server it measures, so its receive loop does only what
the figures need: it decodes each frame from bytes (no text copy), keeps its counters and times in
locals until the turn ends, and arms no timer per turn.
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


@dataclass(frozen=True, slots=True)
class TimedTurn:
    """One turn as the client saw it, times in `time.perf_counter` seconds.

    `first_delta` is 0.0 when no delta came, `longest_gap` when gaps were not timed (or fewer
    than two deltas came); `last` is the frame that ended it.
    """

    began: float
    ended: float
    first_delta: float
    deltas: int
    longest_gap: float
    last: Frame

    def done(self) -> Frame:
        """The `assistant.done` that ended the turn; RuntimeError if an error refused it."""
        if self.last["type"] != ANSWER_END:
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


async def ask_timed(ws: ClientConnection, text: str, *, gaps: bool = False) -> TimedTurn:
    """Send one user message with this text and read to the end of its turn, timing it.

    `gaps` times every delta (for `longest_gap`), not just the first. No timeout: entering
    `asyncio.timeout` costs as much as reading two or three frames, so a caller that needs one
    puts it around many turns.
    """
    message = user_message(text)
    clock, recv, loads = time.perf_counter, ws.recv, orjson.loads
    # Locals, not the result's fields, while frames come: the loop runs once per frame.
    deltas, first, previous, longest = 0, 0.0, 0.0, 0.0
    began = clock()
    await ws.send(message)
    while True:
        frame = loads(await recv(False))
        if frame["type"] == DELTA:
            deltas += 1
            if deltas == 1:
                first = previous = clock()
            elif gaps:
                now = clock()
                longest = max(longest, now - previous)
                previous = now
        elif ends_turn(frame):
            return TimedTurn(began, clock(), first, deltas, longest, frame)


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
