"""WebSocket load benchmark: C concurrent sessions each sending M messages.

Each configuration runs in its own server process (bench/ws_server.py): the bare
route (no model, no storage: the floor), then the real session endpoint with the
local provider at full speed on SQLite and on PostgreSQL; `--runs` repeats the three
interleaved (bare, SQLite, PostgreSQL, bare, ...), each compared with the bare route of
its own round. The client runs in this process. Prints answers/s, delta frames per
answer, time to first delta p50/p95/p99, whole answer p50/p95, the server's peak memory,
its CPU time per answer, the load client's own CPU per answer (its thread's CPU time over the
messages), the load average, and the ratios to the bare route. Then holds I idle sessions
connected and reports the server's memory per session.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import uvloop
from websockets.asyncio.client import ClientConnection

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client import ask_timed, open_load_session  # noqa: E402
from bench.common import percentile, print_table, throwaway_postgres  # noqa: E402


@dataclass
class Load:
    """What the client measured in one configuration."""

    ttfd_ms: list[float] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)
    answers: int = 0
    delta_frames: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0


class Server:
    """A benchmark server process and its memory, sampled while it runs."""

    def __init__(self, env: dict[str, str], *, ws: str, loop: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "ws_server.py"), str(self.port), ws, loop],
            env={**os.environ, **env},
            cwd=ROOT,
        )
        self.peak_rss = 0
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        proc = psutil.Process(self.process.pid)
        while self._sampling:
            try:
                self.peak_rss = max(self.peak_rss, proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    def cpu(self) -> float:
        """The server's CPU time so far (user + system), in seconds."""
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        """The server's resident memory now, in bytes."""
        return int(psutil.Process(self.process.pid).memory_info().rss)

    async def wait_ready(self) -> None:
        """Poll /health until the server answers."""
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}/health")).status_code == 200:
                        self._sampler.start()
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("benchmark server did not start")

    def stop(self) -> None:
        """Stop sampling and terminate the process."""
        self._sampling = False
        self.process.terminate()
        self.process.wait(30)


async def one_session(
    url: str, messages: int, load: Load, go: asyncio.Event, ready: list[int]
) -> None:
    """Connect, wait for the start signal, then send M messages one answer at a time."""
    ws, _ = await open_load_session(url)
    async with ws:
        ready.append(1)
        await go.wait()
        for m in range(messages):
            turn = await ask_timed(ws, f"Tell me about message {m} of this benchmark, please.")
            turn.done()  # an answer, not a refusal
            if turn.deltas:
                load.ttfd_ms.append((turn.first_delta - turn.began) * 1000)
            load.answer_ms.append((turn.ended - turn.began) * 1000)
            load.delta_frames += turn.deltas
            load.answers += 1


async def run_load(
    base: str, path: str, sessions: int, messages: int, server_cpu: Callable[[], float]
) -> Load:
    """C sessions connect, then all start together; the clock and CPU cover the messages only."""
    load, go, ready = Load(), asyncio.Event(), list[int]()
    run = uuid.uuid4().hex[:8]  # fresh sessions in every run
    tasks = [
        asyncio.create_task(one_session(f"{base}{path}/s{i}-{run}", messages, load, go, ready))
        for i in range(sessions)
    ]
    while len(ready) < sessions:
        await asyncio.sleep(0.01)
        if any(t.done() for t in tasks):
            await asyncio.gather(*tasks)
    began, server_began = time.perf_counter(), server_cpu()
    client_began = time.thread_time()
    go.set()
    await asyncio.gather(*tasks)
    load.seconds = time.perf_counter() - began
    load.server_cpu = server_cpu() - server_began
    # The client's own thread only: the memory sampler runs in another.
    load.client_cpu = time.thread_time() - client_began
    return load


async def hold_idle(base: str, count: int) -> list[ClientConnection]:
    """Open `count` sessions and leave them idle."""
    sockets = []
    for start in range(0, count, 100):
        batch = [
            open_load_session(f"{base}/ws/session/idle-{i}")
            for i in range(start, min(start + 100, count))
        ]
        sockets += [ws for ws, _ in await asyncio.gather(*batch)]
    return sockets


def row(name: str, load: Load, server: Server, bare: dict[str, float] | None) -> dict[str, object]:
    """One line of the results table."""
    answers_s = load.answers / load.seconds
    p99 = percentile(load.ttfd_ms, 99)
    return {
        "route": name,
        "answers/s": round(answers_s, 1),
        "frames/answer": round(load.delta_frames / max(load.answers, 1), 1),
        "ttfd p50 ms": round(percentile(load.ttfd_ms, 50), 1),
        "ttfd p95 ms": round(percentile(load.ttfd_ms, 95), 1),
        "ttfd p99 ms": round(p99, 1),
        "answer p50 ms": round(percentile(load.answer_ms, 50), 1),
        "answer p95 ms": round(percentile(load.answer_ms, 95), 1),
        "peak MiB": round(server.peak_rss / 2**20, 1),
        "server CPU ms/answer": round(load.server_cpu * 1000 / max(load.answers, 1), 3),
        "client CPU us/answer": round(load.client_cpu / max(load.answers, 1) * 1e6),
        "answers/s vs bare": round(answers_s / bare["answers_s"], 2) if bare else 1.0,
        "ttfd p99 vs bare": round(p99 / bare["p99"], 2) if bare else 1.0,
        "load avg 1m": round(os.getloadavg()[0], 1),
    }


async def measure(
    args: argparse.Namespace,
    name: str,
    env: dict[str, str],
    path: str,
    bare: dict[str, float] | None,
) -> tuple[dict[str, object], Load]:
    """Start a server, run the load against it, stop it."""
    server = Server(env, ws=args.ws, loop=args.loop)
    try:
        await server.wait_ready()
        load = await run_load(
            f"ws://127.0.0.1:{server.port}", path, args.sessions, args.messages, server.cpu
        )
        return row(name, load, server, bare), load
    finally:
        server.stop()


async def idle_memory(args: argparse.Namespace, env: dict[str, str]) -> dict[str, object]:
    """Memory per idle connected session on the real endpoint."""
    server = Server(env, ws=args.ws, loop=args.loop)
    try:
        await server.wait_ready()
        before = server.rss()
        sockets = await hold_idle(f"ws://127.0.0.1:{server.port}", args.idle)
        await asyncio.sleep(1)
        after = server.rss()
        await asyncio.gather(*(ws.close() for ws in sockets))
        return {
            "idle sessions": args.idle,
            "server MiB before": round(before / 2**20, 1),
            "server MiB held": round(after / 2**20, 1),
            "KiB per session": round((after - before) / args.idle / 1024, 1),
        }
    finally:
        server.stop()


async def main() -> None:
    """Run every configuration and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", "-c", type=int, default=200)
    parser.add_argument("--messages", "-m", type=int, default=10)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--ws", default="websockets-sansio")
    parser.add_argument("--loop", default="uvloop")
    parser.add_argument("--only", choices=["bare", "sqlite", "postgresql"], action="append")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds")
    args = parser.parse_args()
    print(
        f"workload: {args.sessions} concurrent sessions x {args.messages} messages, local "
        f"provider at full speed (~50 word deltas per answer); uvicorn ws={args.ws} "
        f"loop={args.loop}; {args.runs} interleaved rounds; client and server on this "
        f"machine ({os.cpu_count()} cores)"
    )
    common = {
        "LLM_PROVIDER": "local",
        "LOCAL_LLM_DELAY_MS": "0",
        "API_KEY": "",
        "LOG_LEVEL": "warning",
    }
    only = set(args.only or ["bare", "sqlite", "postgresql"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        async with throwaway_postgres() as pg:
            for round_number in range(1, args.runs + 1):
                rows += await one_round(args, round_number, common, tmp, pg, only)
        print_table("websocket load", rows)
        if args.idle:
            idle_env = {**common, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/idle.db"}
            print_table("idle sessions", [await idle_memory(args, idle_env)])


async def one_round(
    args: argparse.Namespace,
    round_number: int,
    common: dict[str, str],
    tmp: str,
    pg: str,
    only: set[str],
) -> list[dict[str, object]]:
    """The bare route, then each backend, all against this round's bare figures."""
    sqlite_env = {**common, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench{round_number}.db"}
    bare_row, bare_load = await measure(args, "bare", sqlite_env, "/ws/bare", None)
    bare = {
        "answers_s": bare_load.answers / bare_load.seconds,
        "p99": percentile(bare_load.ttfd_ms, 99),
    }
    rows = [bare_row]
    if "sqlite" in only:
        rows.append((await measure(args, "session/sqlite", sqlite_env, "/ws/session", bare))[0])
    if "postgresql" in only:
        pg_env = {**common, "DATABASE_URL": pg}
        rows.append((await measure(args, "session/postgresql", pg_env, "/ws/session", bare))[0])
    for line in rows:
        line["round"] = round_number
    return rows


if __name__ == "__main__":
    uvloop.run(main())
