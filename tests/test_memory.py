"""Over-limit traffic does not grow the server: `python -m app` as a real process, its RSS read.

Twenty clients each send one 16 MiB WebSocket frame (offering permessage-deflate), twenty send a
100 MB `POST /events` with its `Content-Length`, and twenty stream 100 MB chunked. Every one is
refused (1009 or 413), and the server's resident memory grows by at most `BOUND` (64 MiB)
(before the limits: +680 MB for the frames, +560 MB for one body).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx

from tests.flood import (
    MiB,
    chunked,
    padded_event,
    peak_rss,
    raw_exchange,
    request_head,
    send_big_frame,
)
from tests.processes import serving
from tests.wsclient import ask, open_session

# Twenty streamed bodies may each be held up to the 1 MiB limit (twice while joined).
BOUND = 64 * MiB
CLIENTS = 20


async def _warm_up(base: str) -> None:
    # The first session, answer and write allocate what every later one reuses.
    ws, _ = await open_session(base, "warm")
    await ask(ws, "What time is it?")
    await ws.close()
    async with httpx.AsyncClient(base_url=base) as http:
        assert (await http.post("/sessions", json={"session_id": "s1"})).status_code == 201


async def test_over_limit_frames_and_bodies_leave_the_server_rss_within_bound(
    tmp_path: Path,
) -> None:
    with serving([sys.executable, "-m", "app"], tmp_path) as (process, base):
        await _warm_up(base)
        with peak_rss(process.pid) as rss:
            frames = [
                send_big_frame(base, f"flood-{n}", 16 * MiB, compression="deflate")
                for n in range(CLIENTS)
            ]
            codes = await asyncio.gather(*frames)
            declared = request_head("/events", {"Content-Length": str(100 * MiB)})
            streamed = request_head("/events", {"Transfer-Encoding": "chunked"})
            bodies = [
                raw_exchange(base, head, pieces)
                for _ in range(CLIENTS)
                for head, pieces in [
                    (declared, padded_event("s1", 100 * MiB)),
                    (streamed, chunked(padded_event("s1", 100 * MiB))),
                ]
            ]
            answers = await asyncio.gather(*bodies)
        growth = rss[1] - rss[0]
        print(f"\nserver RSS {rss[0] / MiB:.0f} MiB, peak +{growth / MiB:.1f} MiB")
        assert codes == [1009] * CLIENTS
        assert [status for status, _ in answers] == [413] * (2 * CLIENTS)
        assert growth <= BOUND, f"RSS grew {growth / MiB:.0f} MiB (bound {BOUND / MiB:.0f})"
