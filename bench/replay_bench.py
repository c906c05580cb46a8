"""Replay latency: how fast a reconnect with `after_seq` gets the last frame of a long session.

A session of E stored events (E/2 turns of a user message and an answer, each with its
seq) is written straight to the database, then a client connects with `after_seq=0`
(everything, from storage) or `after_seq=E-10` (the last few) and the clock runs from
opening the socket to the last replayed frame. Each case runs R times, on SQLite and
PostgreSQL, in a server process of its own: once with the session ended between
reconnects (each connect resumes it: reads it, reopens it; each close ends and summarises
it), once with it kept live by RESUME_GRACE_SECONDS (a reconnect within the grace).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client import open_load_session, read_until  # noqa: E402
from app.config import to_async_url  # noqa: E402
from app.store.base import NewEvent  # noqa: E402
from app.store.sql import SqlStore  # noqa: E402
from bench.common import percentile, print_table, throwaway_postgres  # noqa: E402
from bench.ws_load import Server  # noqa: E402


async def _write_session(url: str, session_id: str, events: int) -> None:
    store = SqlStore(to_async_url(url))
    await store.open()
    try:
        await store.create_session(session_id=session_id, user_id="bench")
        await store.add_event(NewEvent(session_id=session_id, event_type="session_start"))
        for turn in range(events // 2):
            message_id = f"msg_{turn:06d}"
            for kind, seq, content in (
                ("user_message", 2 * turn + 1, f"Question number {turn}, about the weather?"),
                ("assistant_message", 2 * turn + 2, "An answer of a few words. " * 8),
            ):
                meta = {"seq": seq, "message_id": message_id, "finish_reason": "stop"}
                await store.add_event(
                    NewEvent(session_id=session_id, event_type=kind, content=content, metadata=meta)  # type: ignore[arg-type]
                )
        await store.end_session(session_id, end_time=datetime.now(UTC))
    finally:
        await store.close()


async def _replay_ms(base: str, session_id: str, after_seq: int, last_seq: int) -> float:
    began = time.perf_counter()
    ws, _ = await open_load_session(f"{base}/ws/session/{session_id}?after_seq={after_seq}")
    async with ws:
        await read_until(ws, lambda frame: frame.get("seq") == last_seq)
        return (time.perf_counter() - began) * 1000


async def _backend(
    name: str, url: str, args: argparse.Namespace, *, grace: int
) -> list[dict[str, object]]:
    session_id = f"replay-bench-{grace}"
    await _write_session(url, session_id, args.events)
    env = {
        "LLM_PROVIDER": "local",
        "API_KEY": "",
        "LOG_LEVEL": "warning",
        "DATABASE_URL": url,
        "RESUME_GRACE_SECONDS": str(grace),
    }
    server = Server(env, ws="websockets-sansio", loop="uvloop")
    rows = []
    try:
        await server.wait_ready()
        base = f"ws://127.0.0.1:{server.port}"
        for after in (0, args.events - 10):
            times = [
                await _replay_ms(base, session_id, after, args.events) for _ in range(args.repeat)
            ]
            rows.append(
                {
                    "backend": name,
                    "session": "live (grace)" if grace else "ended (resumed)",
                    "events": args.events,
                    "after_seq": after,
                    "frames replayed": args.events - after,
                    "last frame p50 ms": round(percentile(times, 50), 1),
                    "p99 ms": round(percentile(times, 99), 1),
                    "max ms": round(max(times), 1),
                }
            )
    finally:
        server.stop()
    return rows


async def main() -> None:
    """Write the session, replay it R times per case, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(
        f"workload: one session of {args.events} stored events, replayed {args.repeat} times "
        f"per case by one client; server and client on this machine ({os.cpu_count()} cores)"
    )
    rows = []
    for grace in (0, 600):
        with tempfile.TemporaryDirectory() as tmp:
            rows += await _backend("sqlite", f"sqlite+aiosqlite:///{tmp}/r.db", args, grace=grace)
        async with throwaway_postgres() as pg:
            rows += await _backend("postgresql", pg, args, grace=grace)
    print_table("replay", rows)


if __name__ == "__main__":
    uvloop.run(main())
