"""The realistic path: the `openai` provider against a paced OpenAI-format model.

The model (bench/sse_model.py, its own process) answers after T = 200 ms and then gives a
token every 20 ms. "direct": this process calls it with the `openai` SDK (one client on
its aiohttp transport, as the provider, chunks read as JSON), time to the first content
chunk. "server": the same question as a user message on the server's WebSocket, time to
the first `assistant.delta`. The two alternate within each round (the order flips every
round): at C = 1 one question per round and many rounds, at larger C one question on each
of C sessions per round.

Every question carries a unique tag, and the stand-in times each request it gets on the
machine's monotonic clock, which every process shares: so each sample splits into the
way to the model (sent -> request arrived), the model's own time (arrived -> first token
written, T plus the stand-in's lateness) and the way back (first token written -> first
delta or chunk read). "added" is the server's time to first delta minus the direct one
(p50 minus p50, p99 minus p99); "own" is a sample's time to first token less the model's
own time, so the server's own p99 minus direct's is the same difference, per sample.
Each path's rows also give the CPU time the client, the server and the stand-in spent
per answer.
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import httpx
import openai
import psutil
import uvloop
from openai import AsyncOpenAI, AsyncStream
from websockets.asyncio.client import ClientConnection

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client import ask_timed, open_load_session  # noqa: E402
from bench.common import percentile, print_table  # noqa: E402
from bench.ws_load import Server  # noqa: E402


@dataclass(frozen=True, slots=True)
class Sample:
    """One question as the client saw it: its tag, when it was sent and its first text came."""

    tag: str
    sent: float
    first: float


@dataclass(frozen=True, slots=True)
class Split:
    """One sample joined with the stand-in's record of it, in ms."""

    ttft: float
    to_model: float
    model: float
    back: float
    late_first: float
    late_max: float

    @property
    def own(self) -> float:
        """Time to first token less the model's own time."""
        return self.ttft - self.model


Ask = Callable[[str], Awaitable[Sample]]
Records = dict[str, dict[str, float]]  # the stand-in's records by tag


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _direct(client: AsyncOpenAI, tag: str) -> Sample:
    # The SDK's typed chunks cost it about a millisecond each: at C = 200 (10,000 chunks/s)
    # more than this process has. The raw POST (chunks as parsed JSON) keeps the baseline
    # the stand-in's own time.
    sent = time.monotonic()
    stream = await client.post(
        "/chat/completions",
        body={
            "model": "bench-model",
            "messages": [{"role": "user", "content": tag}],
            "stream": True,
        },
        cast_to=object,
        stream=True,
        stream_cls=AsyncStream[object],
    )
    first = None
    async for chunk in stream:
        choices = cast("dict[str, Any]", chunk)["choices"]
        if first is None and choices and choices[0]["delta"].get("content"):
            first = time.monotonic()
    assert first is not None
    return Sample(tag, sent, first)


async def _served(ws: ClientConnection, tag: str) -> Sample:
    # perf_counter and the stand-in's monotonic clock are the same clock on Linux.
    turn = await ask_timed(ws, tag)
    turn.done()
    assert turn.deltas, "the answer came without a delta"
    return Sample(tag, turn.began, turn.first_delta)


async def _stand_in_records(http: httpx.AsyncClient, url: str) -> Records:
    stats = (await http.get(url)).json()
    assert stats["open"] == 0, f"the stand-in still has {stats['open']} requests open"
    return {r["tag"]: r for r in stats["records"]}


def _split(sample: Sample, record: dict[str, float]) -> Split:
    def ms(seconds: float) -> float:
        return seconds * 1000

    return Split(
        ttft=ms(sample.first - sample.sent),
        to_model=ms(record["arrived"] - sample.sent),
        model=ms(record["first"] - record["arrived"]),
        back=ms(sample.first - record["first"]),
        late_first=record["late_first_ms"],
        late_max=record["late_max_ms"],
    )


def _cpu_ms(processes: dict[str, psutil.Process]) -> dict[str, float]:
    """CPU time (user + system) each process has used so far, in ms."""
    times = {name: p.cpu_times() for name, p in processes.items()}
    return {name: (t.user + t.system) * 1000 for name, t in times.items()}


@dataclass
class Asked:
    """One way of asking: its samples and the CPU time each process spent on them."""

    splits: list[Split] = field(default_factory=list)
    cpu_ms: dict[str, float] = field(default_factory=dict)

    def add(self, other: Asked) -> None:
        """Fold another round's samples and CPU time in."""
        self.splits += other.splits
        for name, ms in other.cpu_ms.items():
            self.cpu_ms[name] = self.cpu_ms.get(name, 0.0) + ms


async def _round(
    paths: list[tuple[str, list[Ask]]],
    run: str,
    records: Callable[[], Awaitable[Records]],
    processes: dict[str, psutil.Process],
) -> dict[str, Asked]:
    """Each path in turn asks one question per slot; then the samples joined to the records."""
    samples: dict[str, list[Sample]] = {}
    cpu: dict[str, dict[str, float]] = {}
    for name, slots in paths:
        before = _cpu_ms(processes)
        samples[name] = list(
            await asyncio.gather(*(ask(f"{name}-{run}-{i}") for i, ask in enumerate(slots)))
        )
        after = _cpu_ms(processes)
        cpu[name] = {p: after[p] - before[p] for p in processes}
    seen = await records()
    return {
        name: Asked([_split(s, seen[s.tag]) for s in got], cpu[name])
        for name, got in samples.items()
    }


def _p(values: list[float], q: float) -> float:
    return round(percentile(values, q), 1)


def _path_row(label: dict[str, object], name: str, path: Asked) -> dict[str, object]:
    splits = path.splits
    per_answer = " / ".join(f"{ms / len(splits):.1f}" for ms in path.cpu_ms.values())
    return {
        **label,
        "path": name,
        "n": len(splits),
        "TTFT p50": _p([s.ttft for s in splits], 50),
        "TTFT p99": _p([s.ttft for s in splits], 99),
        "to model p50/p99": f"{_p([s.to_model for s in splits], 50)} / "
        f"{_p([s.to_model for s in splits], 99)}",
        "back p50/p99": f"{_p([s.back for s in splits], 50)} / {_p([s.back for s in splits], 99)}",
        "own p99": _p([s.own for s in splits], 99),
        "stand-in late 1st / any p99": f"{_p([s.late_first for s in splits], 99)} / "
        f"{_p([s.late_max for s in splits], 99)}",
        "CPU ms/answer client / server / stand-in": per_answer,
    }


def _added_row(label: dict[str, object], got: dict[str, Asked]) -> dict[str, object]:
    direct, served = got["direct"].splits, got["server"].splits

    def diff(key: Callable[[Split], float], q: float) -> float:
        return round(
            percentile([key(s) for s in served], q) - percentile([key(s) for s in direct], q), 1
        )

    return {
        **label,
        "added p50 ms": diff(lambda s: s.ttft, 50),
        "added p99 ms": diff(lambda s: s.ttft, 99),
        "own p99 server - direct ms": diff(lambda s: s.own, 99),
    }


async def main() -> None:
    """Start the model and the server, run the interleaved rounds, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", "-c", type=int, nargs="+", default=[1, 200])
    parser.add_argument("--runs", type=int, default=5, help="rounds at each C above 1")
    parser.add_argument("--samples", type=int, default=50, help="rounds (samples) at C = 1")
    parser.add_argument("--ttft-ms", type=float, default=200)
    parser.add_argument("--gap-ms", type=float, default=20)
    parser.add_argument("--tokens", type=int, default=20)
    args = parser.parse_args()
    print(
        f"workload: the openai provider against a model answering after {args.ttft_ms:g} ms, "
        f"then a token every {args.gap_ms:g} ms ({args.tokens} tokens); at C = 1 "
        f"{args.samples} rounds of one question, at C > 1 {args.runs} rounds of one question "
        f"on each of C open sessions; direct and server alternate; SQLite; "
        f"{os.cpu_count()} cores; load average before {_load()}",
        flush=True,
    )
    port = _free_port()
    model = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "sse_model.py"), str(port),
         str(args.ttft_ms), str(args.gap_ms), str(args.tokens)]
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    rows: list[dict[str, object]] = []
    added: list[dict[str, object]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                "LLM_PROVIDER": "openai",
                "OPENAI_API_KEY": "bench",
                "OPENAI_BASE_URL": base_url,
                "LLM_MODEL": "bench-model",
                "API_KEY": "",
                "LOG_LEVEL": "warning",
                "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/path.db",
            }
            server = Server(env, ws="websockets-sansio", loop="uvloop")
            # Every connection of a round kept for the next (the SDK's default keeps 100); the
            # aiohttp transport, as the provider's: over httpx this client's own CPU made the
            # baseline itself late at C = 200.
            limits = type(openai.DEFAULT_CONNECTION_LIMITS)(
                max_connections=1000, max_keepalive_connections=1000
            )
            client = AsyncOpenAI(
                base_url=base_url,
                api_key="bench",
                http_client=openai.DefaultAioHttpClient(limits=limits),
            )
            http = httpx.AsyncClient()
            try:
                await server.wait_ready()
                processes = {
                    "client": psutil.Process(),
                    "server": psutil.Process(server.process.pid),
                    "stand-in": psutil.Process(model.pid),
                }

                async def records() -> Records:
                    return await _stand_in_records(http, f"http://127.0.0.1:{port}/stats")

                for c in args.concurrency:
                    sockets = await _open(f"ws://127.0.0.1:{server.port}", c)
                    direct: list[Ask] = [partial(_direct, client)] * c
                    served: list[Ask] = [partial(_served, ws) for ws in sockets]
                    # A warm-up round: the first connections and the SDK's first request.
                    await _round(
                        [("direct", direct), ("server", served)], f"warm{c}", records, processes
                    )
                    rounds = args.samples if c == 1 else args.runs
                    totals = {"direct": Asked(), "server": Asked()}
                    for n in range(1, rounds + 1):
                        order = [("direct", direct), ("server", served)]
                        got = await _round(
                            order if n % 2 else order[::-1], f"{c}-{n}", records, processes
                        )
                        for name in totals:
                            totals[name].add(got[name])
                        if c > 1:
                            label = {"round": n, "C": c}
                            rows += [_path_row(label, name, got[name]) for name in totals]
                            added.append(_added_row(label, got))
                    label = {"round": f"all {rounds}", "C": c}
                    rows += [_path_row(label, name, totals[name]) for name in totals]
                    added.append(_added_row(label, totals))
                    await asyncio.gather(*(ws.close() for ws in sockets))
                    print(f"\nC = {c}; load average after: {_load()}")
                    print_table("time to first token (ms) and its parts", rows)
                    print_table("what the server adds (ms)", added)
                    rows, added = [], []
            finally:
                await http.aclose()
                await client.close()
                server.stop()
    finally:
        model.terminate()
        model.wait(10)


async def _open(ws_base: str, c: int) -> list[ClientConnection]:
    run = uuid.uuid4().hex[:8]
    opened = await asyncio.gather(
        *(open_load_session(f"{ws_base}/ws/session/o{i}-{run}") for i in range(c))
    )
    return [ws for ws, _ in opened]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in psutil.getloadavg())


if __name__ == "__main__":
    uvloop.run(main())
