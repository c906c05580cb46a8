"""One bad value among many good writes on PostgreSQL: what the good sessions lose.

Workload: a server process (`python -m app`, local provider at full speed, a fresh
PostgreSQL database) and, for `--seconds`, `--sessions` normal WebSocket sessions each
sending one user message after the other, beside `--bad` clients that keep sending a
message with a NUL character ("a\\u0000b"). Run twice in one go: without the bad clients
(the baseline) and with them. After the clients close, the server is stopped (it drains)
and the database is read. Prints, for the normal sessions: answers received, their
`storage_unavailable` errors, and the answers whose `assistant.done` they received but that
the database does not hold; for the bad clients, what they were told. `--app-root` serves
another checkout (say, the code before a fix) with the same client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client import read_turn, receive, user_message, ws_url  # noqa: E402
from bench.common import print_table, throwaway_postgres  # noqa: E402

BAD_CONTENT = "a\u0000b"


@dataclass
class Tally:
    """What one side of the load saw."""

    answers: int = 0
    storage_unavailable: int = 0
    other_errors: dict[str, int] = field(default_factory=dict)
    acknowledged: set[str] = field(default_factory=set)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _start_server(app_root: Path, database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LLM_PROVIDER": "local",
        "LOCAL_LLM_DELAY_MS": "0",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "error",
        "PYTHONPATH": str(app_root),
    }
    for name in ("API_KEY", "RATE_LIMIT_PER_MINUTE", "REDIS_URL", "OPENAI_API_KEY"):
        env.pop(name, None)
    server = subprocess.Popen([sys.executable, "-m", "app"], cwd=app_root, env=env)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                if (await http.get(url + "/health")).status_code == 200:
                    return server, url
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


async def _converse(ws: ClientConnection, content: str, tally: Tally) -> None:
    await ws.send(user_message(content))
    for frame in await read_turn(ws, timeout=30):
        if frame["type"] == "error":
            code = frame["code"]
            if code == "storage_unavailable":
                tally.storage_unavailable += 1
            else:
                tally.other_errors[code] = tally.other_errors.get(code, 0) + 1
        elif frame["type"] == "assistant.done":
            tally.answers += 1
            tally.acknowledged.add(frame["message_id"])


async def _client(url: str, session_id: str, content: str, until: float, tally: Tally) -> None:
    async with connect(ws_url(url, session_id)) as ws:
        await receive(ws)  # session.started
        n = 0
        while time.monotonic() < until:
            n += 1
            await _converse(ws, content if content == BAD_CONTENT else f"{content} {n}", tally)


async def _stored_answers(database_url: str) -> set[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "select metadata->>'message_id' as id from session_events"
            " where event_type = 'assistant_message'"
        )
    finally:
        await conn.close()
    return {row["id"] for row in rows}


async def run(app_root: Path, sessions: int, bad: int, seconds: float) -> dict[str, object]:
    """One load of `sessions` normal and `bad` NUL-sending clients; the figures."""
    async with throwaway_postgres() as database_url:
        server, url = await _start_server(app_root, database_url)
        good, poisoned = Tally(), Tally()
        try:
            until = time.monotonic() + seconds
            await asyncio.gather(
                *(_client(url, f"good-{i}", "hello", until, good) for i in range(sessions)),
                *(_client(url, f"bad-{i}", BAD_CONTENT, until, poisoned) for i in range(bad)),
            )
        finally:
            server.send_signal(signal.SIGTERM)
            await asyncio.to_thread(server.wait, 60)
        unstored = good.acknowledged - await _stored_answers(database_url)
    return {
        "bad clients": bad,
        "good answers": good.answers,
        "good storage_unavailable": good.storage_unavailable,
        "good acked, not stored": len(unstored),
        "good other errors": good.other_errors or "-",
        "bad client told": {
            **poisoned.other_errors,
            "storage_unavailable": poisoned.storage_unavailable,
        }
        if bad
        else "-",
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--bad", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--app-root", type=Path, default=ROOT)
    args = parser.parse_args()
    print(
        f"workload: {args.sessions} normal sessions + {args.bad} NUL client(s), "
        f"{args.seconds:g} s each run, PostgreSQL, local provider, app at {args.app_root}"
    )
    rows = [
        await run(args.app_root, args.sessions, 0, args.seconds),
        await run(args.app_root, args.sessions, args.bad, args.seconds),
    ]
    print_table("normal sessions without and with the bad client(s)", rows)
    base, with_bad = rows[0]["good answers"], rows[1]["good answers"]
    assert isinstance(base, int) and isinstance(with_bad, int)
    print(f"\ngood answers with / without the bad client(s): {with_bad / max(base, 1):.2f}")


if __name__ == "__main__":
    asyncio.run(main())
