"""Model pace: how many concurrent sessions the server holds at the model's pace.

The local provider paces its pieces by an absolute schedule (piece i due at start +
i x LOCAL_LLM_DELAY_MS), so an answer of n pieces should take (n - 1) x delay; whatever
it takes beyond is the server's (and the machine's) doing. For each C, C sessions connect,
then all send M messages, one answer at a time; the client is split over K processes so
that it is not the bottleneck. Prints, per C: whole-answer p50/p99 as a multiple of the
model's pace, delta frames per answer, the p99 gap between delta frames, and the CPU
seconds the server processes and the client processes used.

`--processes 1 2` runs each C on one server process and then on two (PostgreSQL and the
Redis at REDIS_URL, the sessions spread over them); with more than one count, or with
`--postgres`, one process runs on PostgreSQL too (the in-memory bus), the baseline of the
same run. Otherwise one process on SQLite, as before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client import ask_timed, open_load_session  # noqa: E402
from bench.common import percentile, print_table, throwaway_postgres  # noqa: E402
from bench.ws_load import Server  # noqa: E402

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

_PIECE = re.compile(r"\s*\S+")


async def _session(
    url: str, messages: int, delay: float, go: float, out: list[dict[str, float]]
) -> None:
    ws, _ = await open_load_session(url)
    async with ws:
        await asyncio.sleep(max(0.0, go - time.time()))
        for m in range(messages):
            turn = await ask_timed(ws, f"Tell me about {m}.", gaps=True)
            pace = (len(_PIECE.findall(turn.done()["content"])) - 1) * delay * 1000
            out.append(
                {
                    "answer_ms": (turn.ended - turn.began) * 1000,
                    "pace_ms": pace,
                    "frames": turn.deltas,
                    "max_gap_ms": turn.longest_gap * 1000,
                }
            )


async def _worker(bases: str, sessions: int, messages: int, delay: float, go: float) -> None:
    out: list[dict[str, float]] = []
    run = uuid.uuid4().hex[:8]
    servers = bases.split(",")
    began = time.process_time()
    await asyncio.gather(
        *(
            _session(f"{servers[i % len(servers)]}/ws/session/p{i}-{run}", messages, delay, go, out)
            for i in range(sessions)
        )
    )
    print(json.dumps({"results": out, "cpu": time.process_time() - began}))


def _spawn(
    bases: str, sessions: int, messages: int, delay: float, go: float
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--worker",
            bases,
            str(sessions),
            str(messages),
            str(delay),
            str(go),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def _row(
    c: int, results: list[dict[str, float]], seconds: float, delay_ms: float
) -> dict[str, object]:
    ratios = [r["answer_ms"] / r["pace_ms"] for r in results if r["pace_ms"] > 0]
    return {
        "C": c,
        "answers": len(results),
        "answer p50 / pace": round(percentile(ratios, 50), 3),
        "answer p99 / pace": round(percentile(ratios, 99), 3),
        "within 10 %": percentile(ratios, 99) <= 1.10,
        "frames/answer": round(sum(r["frames"] for r in results) / len(results), 1),
        "p99 max gap ms": round(percentile([r["max_gap_ms"] for r in results], 99), 1),
        "words/s": round(sum(r["pace_ms"] / delay_ms + 1 for r in results) / seconds),
    }


def _env(args: argparse.Namespace, database: str, *, bus: bool) -> dict[str, str]:
    return {
        "LLM_PROVIDER": "local",
        "LOCAL_LLM_DELAY_MS": f"{args.delay_ms:g}",
        "WS_DELTA_FLUSH_MS": f"{args.flush_ms:g}",
        "API_KEY": "",
        "LOG_LEVEL": "warning",
        "DATABASE_URL": database,
        "REDIS_URL": REDIS_URL if bus else "",
        "REDIS_PREFIX": f"rt-pace-{uuid.uuid4().hex[:8]}",
    }


async def _measure(
    c: int, count: int, env: dict[str, str], args: argparse.Namespace
) -> dict[str, object]:
    """C sessions on `count` server processes with `env`: one row of the table."""
    servers = [Server(env, ws="websockets-sansio", loop="uvloop") for _ in range(count)]
    try:
        await asyncio.gather(*(server.wait_ready() for server in servers))
        bases = ",".join(f"ws://127.0.0.1:{server.port}" for server in servers)
        watched = [psutil.Process(server.process.pid) for server in servers]
        server_before = sum(sum(p.cpu_times()[:2]) for p in watched)
        go = time.time() + 5 + c / 200  # every session connected by then
        share = [c // args.clients + (i < c % args.clients) for i in range(args.clients)]
        delay = args.delay_ms / 1000
        workers = [_spawn(bases, n, args.messages, delay, go) for n in share if n]
        outputs = await asyncio.gather(*(asyncio.to_thread(w.communicate) for w in workers))
        seconds = time.time() - go
        server_cpu = sum(sum(p.cpu_times()[:2]) for p in watched) - server_before
    finally:
        for server in servers:
            server.stop()
    done = [json.loads(out) for out, _ in outputs]
    results = [r for d in done for r in d["results"]]
    row = {"processes": count, **_row(c, results, seconds, args.delay_ms)}
    row["server CPU s"] = round(server_cpu, 1)
    row["client CPU s"] = round(sum(d["cpu"] for d in done), 1)
    row["load avg 1m"] = round(os.getloadavg()[0], 1)
    return row


async def main() -> None:
    """Run each C on each process count, against fresh server processes, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", "-c", type=int, nargs="+", default=[50, 200, 500, 1000])
    parser.add_argument("--messages", "-m", type=int, default=3)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--flush-ms", type=float, default=25.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--processes", type=int, nargs="+", default=[1], help="server processes")
    parser.add_argument("--postgres", action="store_true", help="one process on PostgreSQL too")
    args = parser.parse_args()
    on_postgres = args.postgres or args.processes != [1]
    print(
        f"workload: C sessions x {args.messages} messages, local provider at "
        f"{args.delay_ms:g} ms per piece (absolute schedule), WS_DELTA_FLUSH_MS={args.flush_ms:g}, "
        f"{'PostgreSQL (Redis with 2+ processes)' if on_postgres else 'SQLite'}, server "
        f"processes {args.processes}, {args.clients} client processes, {os.cpu_count()} cores"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for c in args.concurrency:
            for count in args.processes:
                if on_postgres:
                    async with throwaway_postgres() as database:
                        env = _env(args, database, bus=count > 1)
                        rows.append(await _measure(c, count, env, args))
                else:
                    rows.append(
                        await _measure(
                            c, 1, _env(args, f"sqlite+aiosqlite:///{tmp}/p{c}.db", bus=False), args
                        )
                    )
                print_table("so far", rows[-1:])
    print_table("model pace", rows)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        base, sessions, messages, delay, go = sys.argv[2:7]
        uvloop.run(_worker(base, int(sessions), int(messages), float(delay), float(go)))
    else:
        uvloop.run(main())
