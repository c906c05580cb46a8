"""Several processes: what the Redis bus and a second process cost, and replay across processes.

Each configuration is real `python -m app` processes on one throwaway PostgreSQL database
(and the Redis at REDIS_URL, under a prefix of this run): `one` is one process with the
in-memory bus (the baseline), `one+redis` one process with the Redis bus, `two+redis` two
processes with the Redis bus, the client's sessions spread over them (distinct ids, so each
session lives on the process its connection reached). C sessions each send M messages to the
local model at full speed; `--runs` repeats the three interleaved. Printed per configuration:
answers/s, the server CPU per 1,000 answers (all its processes together), the client's CPU,
and both as ratios to `one` of the same round.

Then replay across processes: while an answer streams on A (LOCAL_LLM_DELAY_MS=20), a new
connection with after_seq=0 on B (relayed to A) and, as the baseline, on A itself; the time
from the handshake's start to `session.started` and to the first replayed conversation
frame, p50/p95/p99, and the first frame's p99 as a ratio to the same process's.
`--replay-only` skips the load rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psutil
import redis.asyncio as redis
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client import ask_timed, open_load_session, read_until, user_message  # noqa: E402
from bench.common import percentile, print_table, throwaway_postgres  # noqa: E402

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


class Process:
    """One `python -m app` server process."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        full = {**os.environ, **env, "PORT": str(self.port), "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app"],
            cwd=cwd,
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.ps = psutil.Process(self.proc.pid)

    @property
    def ws(self) -> str:
        """Its WebSocket base URL."""
        return f"ws://127.0.0.1:{self.port}"

    async def ready(self) -> None:
        """Wait until it answers /health with 200."""
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("a benchmark server did not start")

    def cpu(self) -> float:
        """CPU seconds it has used so far."""
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        """Terminate it."""
        self.proc.terminate()
        self.proc.wait(60)


async def _session(url: str, messages: int, go: asyncio.Event, ready: list[int]) -> None:
    ws, _ = await open_load_session(url)
    async with ws:
        ready.append(1)
        await go.wait()
        for m in range(messages):
            turn = await ask_timed(ws, f"Tell me about message {m} of this benchmark, please.")
            turn.done()  # an answer, not a refusal


def _url(processes: list[Process], index: int) -> str:
    return f"{processes[index % len(processes)].ws}/ws/session"


async def load(processes: list[Process], sessions: int, messages: int) -> dict[str, float]:
    """Run the load; answers/s, server and client CPU seconds per 1,000 answers."""
    run = uuid.uuid4().hex[:8]
    go, ready = asyncio.Event(), list[int]()
    tasks = [
        asyncio.create_task(_session(f"{_url(processes, i)}/b{i}-{run}", messages, go, ready))
        for i in range(sessions)
    ]
    while len(ready) < sessions:
        await asyncio.sleep(0.01)
        if any(t.done() for t in tasks):
            await asyncio.gather(*tasks)
    server_before = sum(p.cpu() for p in processes)
    client_before = time.process_time()
    began = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - began
    answers = sessions * messages
    per_k = 1000 / answers
    return {
        "answers_s": answers / seconds,
        "server_cpu_per_k": (sum(p.cpu() for p in processes) - server_before) * per_k,
        "client_cpu_per_k": (time.process_time() - client_before) * per_k,
    }


async def configuration(
    name: str, count: int, env: dict[str, str], args: argparse.Namespace, cwd: str
) -> dict[str, float]:
    """Start `count` processes with `env`, run the load once, stop them."""
    processes = [Process(env, cwd) for _ in range(count)]
    try:
        await asyncio.gather(*(p.ready() for p in processes))
        return await load(processes, args.sessions, args.messages)
    finally:
        for process in processes:
            process.stop()


async def replay(env: dict[str, str], tries: int, cwd: str) -> list[dict[str, object]]:
    """First replayed frame of a live answer, relayed (on B) and local (on A)."""
    paced = {**env, "LOCAL_LLM_DELAY_MS": "20"}
    a, b = Process(paced, cwd), Process(paced, cwd)
    labels = ("other process (relayed)", "same process")
    timings: dict[str, list[float]] = {label: [] for label in labels}
    started: dict[str, list[float]] = {label: [] for label in labels}
    try:
        await asyncio.gather(a.ready(), b.ready())
        for index in range(tries):
            session = f"replay-{index}-{uuid.uuid4().hex[:6]}"
            url = f"/ws/session/{session}"
            async with connect(a.ws + url + "?on_disconnect=continue") as writer:
                await writer.recv()
                await writer.send(user_message("hello"))
                await read_until(writer, lambda frame: frame["type"] == "assistant.delta")
                for label, base in zip(labels, (b, a), strict=True):
                    began = time.perf_counter()
                    async with connect(f"{base.ws}{url}?mode=observe&after_seq=0") as watcher:
                        await watcher.recv()  # session.started
                        started[label].append((time.perf_counter() - began) * 1000)
                        await watcher.recv()  # the first replayed frame
                        timings[label].append((time.perf_counter() - began) * 1000)
    finally:
        a.stop()
        b.stop()
    local_p99 = percentile(timings["same process"], 99)
    return [
        {
            "replay of a live answer": label,
            "tries": len(values),
            "started p50 ms": round(percentile(started[label], 50), 2),
            "started p99 ms": round(percentile(started[label], 99), 2),
            "first frame p50 ms": round(percentile(values, 50), 2),
            "p95 ms": round(percentile(values, 95), 2),
            "p99 ms": round(percentile(values, 99), 2),
            "p99 vs same process": round(percentile(values, 99) / local_p99, 2),
        }
        for label, values in timings.items()
    ]


async def main(args: argparse.Namespace) -> None:
    """Run every configuration `--runs` times, interleaved, then the replay timing."""
    prefix = f"rt-bench-{uuid.uuid4().hex[:8]}"
    print(
        f"workload: C={args.sessions} sessions x M={args.messages} messages, local model at full"
        f" speed, PostgreSQL, Redis {REDIS_URL}; {args.runs} interleaved rounds; "
        f"{os.cpu_count()} cores shared with the client; replay: {args.replays} tries; "
        f"load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory() as cwd:
        async with throwaway_postgres() as database:
            base = {
                "DATABASE_URL": database,
                "LLM_PROVIDER": "local",
                "LOG_LEVEL": "warning",
                "REDIS_PREFIX": prefix,
                "API_KEY": "",
            }
            shapes = [
                ("one", 1, {**base, "REDIS_URL": ""}),
                ("one+redis", 1, {**base, "REDIS_URL": REDIS_URL}),
                ("two+redis", 2, {**base, "REDIS_URL": REDIS_URL}),
            ]
            rows: list[dict[str, object]] = []
            for round_number in range(0 if args.replay_only else args.runs):
                results = {
                    name: await configuration(name, count, env, args, cwd)
                    for name, count, env in shapes
                }
                one = results["one"]
                for name, result in results.items():
                    rows.append(
                        {
                            "round": round_number + 1,
                            "shape": name,
                            "answers/s": round(result["answers_s"], 1),
                            "server CPU s/1k answers": round(result["server_cpu_per_k"], 2),
                            "client CPU s/1k answers": round(result["client_cpu_per_k"], 2),
                            "answers/s vs one": round(result["answers_s"] / one["answers_s"], 2),
                            "server CPU vs one": round(
                                result["server_cpu_per_k"] / one["server_cpu_per_k"], 2
                            ),
                        }
                    )
            if rows:
                print_table("Cost of the Redis bus and of a second process", rows)
            redis_env = {**base, "REDIS_URL": REDIS_URL}
            print_table("Replay", await replay(redis_env, args.replays, cwd))
    client = redis.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--replays", type=int, default=200)
    parser.add_argument("--replay-only", action="store_true", help="skip the load rounds")
    asyncio.run(main(parser.parse_args()))
