"""Turn cost against session length: a 10,000-event session against a 10-event one, same run.

Two sessions are written straight to the database as the app stores them: turns of a user
message and an answer (every fifth with a tool call and its result) and, every 40 turns, a
`context_summary` covering what came before (as compaction leaves a long session). A client
then resumes each session R times (connect, `session.started`, K turns, close: each close
ends and summarises it, each connect reads it back) against a server process with the local
provider, the default LLM_CONTEXT_TOKENS and WS_DELTA_FLUSH_MS=0. Printed per backend: time
to `session.started` and per turn (user message to `assistant.done`), p50 and p99, and the
ratios long / short.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client import ask_timed, open_load_session  # noqa: E402
from app.config import to_async_url  # noqa: E402
from app.store.base import NewEvent  # noqa: E402
from app.store.sql import SqlStore  # noqa: E402
from bench.common import percentile, print_table, throwaway_postgres  # noqa: E402
from bench.ws_load import Server  # noqa: E402

_SUMMARY_EVERY = 40


def _turn_events(session_id: str, turn: int, seq: int) -> list[NewEvent]:
    message_id = f"msg_{turn:06d}"
    base = {"message_id": message_id}
    events: list[tuple[str, str, dict[str, Any]]] = [
        ("user_message", f"Question {turn}: what about the weather in city {turn}?", {}),
    ]
    if turn % 5 == 0:
        call = {"call_id": f"call_{turn}", "name": "check_inventory"}
        events += [
            ("tool_call", '{"item":"mice"}', {**call, "arguments": {"item": "mice"}}),
            ("tool_result", '{"item":"mice","quantity":42}', {**call, "result": {"quantity": 42}}),
        ]
    events.append(
        ("assistant_message", "An answer of a few words. " * 6, {"finish_reason": "stop"})
    )
    return [
        NewEvent(
            session_id=session_id,
            event_type=kind,  # type: ignore[arg-type]
            content=content,
            metadata={**base, **extra, "seq": seq + index},
        )
        for index, (kind, content, extra) in enumerate(events)
    ]


async def _write_session(url: str, session_id: str, events: int) -> int:
    """Write about `events` events; return the highest seq."""
    store = SqlStore(to_async_url(url))
    await store.open()
    written, seq, turn = 0, 1, 0
    try:
        await store.create_session(session_id=session_id, user_id="bench")
        while written < events:
            batch = _turn_events(session_id, turn, seq)
            stored = await asyncio.gather(*(store.add_event(e) for e in batch))
            written, seq, turn = written + len(batch), seq + len(batch), turn + 1
            if turn % _SUMMARY_EVERY == 0 and written < events - 10:
                summary = NewEvent(
                    session_id=session_id,
                    event_type="context_summary",
                    content=f"The user asked about the weather in cities up to {turn}.",
                    metadata={"seq": seq, "covers_through_id": stored[-1].id},
                )
                await store.add_event(summary)
                written, seq = written + 1, seq + 1
        await store.end_session(session_id, end_time=datetime.now(UTC))
    finally:
        await store.close()
    return seq - 1


async def _visit(base: str, session_id: str, turns: int) -> tuple[float, list[float]]:
    began = time.perf_counter()
    ws, started = await open_load_session(f"{base}/ws/session/{session_id}")
    async with ws:
        if started["type"] != "session.started":
            raise RuntimeError(f"expected session.started, got {started}")
        opened = (time.perf_counter() - began) * 1000
        times = []
        for number in range(turns):
            turn = await ask_timed(ws, f"And city {number}?")
            turn.done()  # an answer, not a refusal
            times.append((turn.ended - turn.began) * 1000)
    return opened, times


def _rounded(figures: dict[str, float]) -> dict[str, float]:
    """The figures to two decimals, for the table."""
    return {key: round(value, 2) for key, value in figures.items()}


async def _backend(name: str, url: str, args: argparse.Namespace) -> list[dict[str, object]]:
    sizes = {"short": 10, "long": args.events}
    for label, events in sizes.items():
        await _write_session(url, label, events)
    # No delta coalescing: its 25 ms window would be most of a turn and hide the history's cost.
    env = {
        "LLM_PROVIDER": "local",
        "API_KEY": "",
        "LOG_LEVEL": "warning",
        "DATABASE_URL": url,
        "WS_DELTA_FLUSH_MS": "0",
    }
    server = Server(env, ws="websockets-sansio", loop="uvloop")
    measured: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in sizes}
    try:
        await server.wait_ready()
        base = f"ws://127.0.0.1:{server.port}"
        for label in sizes:  # unmeasured: the first visits warm the server's caches and pools
            await _visit(base, label, args.turns)
        for round_ in range(args.repeat):
            # Interleaved, so both see the same machine load, in alternating order, so neither
            # always follows the other's close (which ends and summarises that session).
            for label in sorted(sizes, reverse=round_ % 2 == 1):
                opened, times = await _visit(base, label, args.turns)
                measured[label][0].append(opened)
                measured[label][1].extend(times)
    finally:
        server.stop()
    stats = {
        label: {
            "open p50 ms": percentile(opens, 50),
            "open p99 ms": percentile(opens, 99),
            "turn p50 ms": percentile(turns, 50),
            "turn p99 ms": percentile(turns, 99),
        }
        for label, (opens, turns) in measured.items()
    }
    rows: list[dict[str, object]] = [
        {"backend": name, "session": f"{sizes[label]} events", **_rounded(figures)}
        for label, figures in stats.items()
    ]
    ratios = {key: stats["long"][key] / stats["short"][key] for key in stats["long"]}
    rows.append({"backend": name, "session": "ratio long/short", **_rounded(ratios)})
    return rows


async def main() -> None:
    """Write both sessions on each backend, resume each R times, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--turns", type=int, default=4)
    args = parser.parse_args()
    print(
        f"workload: a {args.events}-event and a 10-event session, each resumed {args.repeat} "
        f"times for {args.turns} turns by one client (local provider, LLM_CONTEXT_TOKENS "
        f"16000, WS_DELTA_FLUSH_MS 0); server and client on this machine ({os.cpu_count()} cores)",
        flush=True,  # shown before the minutes of seeding and measuring, also through a pipe
    )
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += await _backend("sqlite", f"sqlite+aiosqlite:///{tmp}/c.db", args)
    async with throwaway_postgres() as pg:
        rows += await _backend("postgresql", pg, args)
    print_table("turn cost against session length", rows)


if __name__ == "__main__":
    uvloop.run(main())
