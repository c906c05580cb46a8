"""Replay latency: how fast a reconnect with `after_seq` gets the last frame of a long session.

A session of E stored events (E/2 turns of a user message and an answer, each with its
seq) is written to the database as the service stores them, ended, and copied once per
try. Per backend (SQLite, PostgreSQL) one server process (RESUME_GRACE_SECONDS=600, so no
close ends a session meanwhile) serves R tries of each case, interleaved; the clock runs
from opening the socket to the frame with the last seq:
- `floor`: the bench route `/ws/bare-frames/N` sends N frames of the same shapes and
  sizes, encoded at start-up, one send each: the transport and this client's receiving;
- `live`: one session kept in memory, reconnected R times;
- `ended`: a fresh copy of the ended session per try, read from storage and reopened.
Session connections use `mode=takeover`, as a client reconnecting after a drop may: the
server may not have seen the previous socket close yet (`write` would get 4409).
Each case runs with everything replayed (`after_seq=0`, E frames) and with the last ten
(`after_seq=E-10`: mostly the handshake, the session lookup and the reopen). Printed: the
p50/p99/max, the client's CPU per replay, and each p99 as a ratio to the floor's of the
same number of frames.
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
from sqlalchemy import insert, literal, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client import open_load_session, read_until  # noqa: E402
from app.config import to_async_url  # noqa: E402
from app.store.base import NewEvent  # noqa: E402
from app.store.sql import SqlStore  # noqa: E402
from app.store.tables import session_events, sessions  # noqa: E402
from bench.common import percentile, print_table, throwaway_postgres  # noqa: E402
from bench.ws_load import Server  # noqa: E402

TEMPLATE = "replay-template"
_COPIED = ["event_type", "role", "content", "metadata", "created_at"]


async def _write_sessions(url: str, events: int, copies: list[str]) -> None:
    """The template session, event by event as the service stores them, then its copies."""
    store = SqlStore(to_async_url(url))
    await store.open()
    try:
        await store.create_session(session_id=TEMPLATE, user_id="bench")
        await store.add_event(NewEvent(session_id=TEMPLATE, event_type="session_start"))
        for turn in range(events // 2):
            message_id = f"msg_{turn:06d}"
            for kind, seq, content in (
                ("user_message", 2 * turn + 1, f"Question number {turn}, about the weather?"),
                ("assistant_message", 2 * turn + 2, "An answer of a few words. " * 8),
            ):
                meta = {"seq": seq, "message_id": message_id, "finish_reason": "stop"}
                await store.add_event(
                    NewEvent(session_id=TEMPLATE, event_type=kind, content=content, metadata=meta)  # type: ignore[arg-type]
                )
        await store.end_session(TEMPLATE, end_time=datetime.now(UTC))
        async with store.engine.begin() as conn:
            template = select(sessions).where(sessions.c.session_id == TEMPLATE)
            row = (await conn.execute(template)).mappings().one()
            for copy in copies:
                await conn.execute(insert(sessions).values({**row, "session_id": copy}))
                rows = (
                    select(literal(copy), *(session_events.c[name] for name in _COPIED))
                    .where(session_events.c.session_id == TEMPLATE)
                    .order_by(session_events.c.id)
                )
                await conn.execute(
                    insert(session_events).from_select(["session_id", *_COPIED], rows)
                )
    finally:
        await store.close()


async def _replay(url: str, last_seq: int) -> tuple[float, float]:
    """Milliseconds from opening the socket to the frame with `last_seq`, and client CPU ms."""
    began, cpu = time.perf_counter(), time.process_time()
    ws, _ = await open_load_session(url)
    async with ws:
        await read_until(ws, lambda frame: frame.get("seq") == last_seq)
        return (time.perf_counter() - began) * 1000, (time.process_time() - cpu) * 1000


async def _backend(name: str, url: str, args: argparse.Namespace) -> list[dict[str, object]]:
    events, repeat = args.events, args.repeat
    afters = (0, events - 10)
    copies = {after: [f"replay-ended-{after}-{i}" for i in range(repeat)] for after in afters}
    await _write_sessions(url, events, [c for names in copies.values() for c in names])
    env = {
        "LLM_PROVIDER": "local",
        "API_KEY": "",
        "LOG_LEVEL": "warning",
        "DATABASE_URL": url,
        "RESUME_GRACE_SECONDS": "600",
    }
    server = Server(env, ws="websockets-sansio", loop="uvloop")
    times: dict[tuple[str, int], list[tuple[float, float]]] = {}
    try:
        await server.wait_ready()
        base = f"ws://127.0.0.1:{server.port}"
        for after in afters:  # the live session is opened (and its events read) untimed
            await _replay(f"{base}/ws/session/{TEMPLATE}?mode=takeover&after_seq={after}", events)
        for index in range(repeat):
            for after in afters:
                query = f"mode=takeover&after_seq={after}"
                urls = {
                    "floor": f"{base}/ws/bare-frames/{events - after}",
                    "live": f"{base}/ws/session/{TEMPLATE}?{query}",
                    "ended": f"{base}/ws/session/{copies[after][index]}?{query}",
                }
                for case, url_ in urls.items():
                    last = events - after if case == "floor" else events
                    times.setdefault((case, after), []).append(await _replay(url_, last))
    finally:
        server.stop()
    rows: list[dict[str, object]] = []
    for (case, after), pairs in times.items():
        wall = [w for w, _ in pairs]
        floor_p99 = percentile([w for w, _ in times[("floor", after)]], 99)
        rows.append(
            {
                "backend": name,
                "case": case,
                "after_seq": after if case != "floor" else "-",
                "frames": events - after,
                "last frame p50 ms": round(percentile(wall, 50), 1),
                "p99 ms": round(percentile(wall, 99), 1),
                "max ms": round(max(wall), 1),
                "client CPU p50 ms": round(percentile([c for _, c in pairs], 50), 1),
                "p99 vs floor": round(percentile(wall, 99) / floor_p99, 2),
            }
        )
    rows.sort(key=lambda r: (str(r["case"]) != "floor", str(r["case"]), -int(str(r["frames"]))))
    return rows


async def main() -> None:
    """Write the sessions, replay them R times per case, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"workload: sessions of {args.events} stored events, {args.repeat} tries per case, "
        f"interleaved, one client; server and client on this machine ({os.cpu_count()} cores, "
        f"load average {load})"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += await _backend("sqlite", f"sqlite+aiosqlite:///{tmp}/r.db", args)
    async with throwaway_postgres() as pg:
        rows += await _backend("postgresql", pg, args)
    print_table("replay", rows)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average at the end: {load}")


if __name__ == "__main__":
    uvloop.run(main())
