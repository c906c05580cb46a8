"""The realistic path: the `openai` provider against a paced OpenAI-format model.

The model (bench/sse_model.py, its own process) answers after T = 200 ms and then gives a
token every 20 ms. Baseline: C clients calling it directly with the `openai` SDK, time to
the first content chunk. Then the same C through the server's WebSocket (a fresh session
each, one message): time to the first `assistant.delta`. What the server adds is the
difference, at p50 and p99. Runs are interleaved (direct, server, direct, ...).
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

import uvloop
from openai import AsyncOpenAI
from websockets.asyncio.client import ClientConnection

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client import ask_timed, open_load_session  # noqa: E402
from bench.common import percentile, print_table  # noqa: E402
from bench.ws_load import Server  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _direct(base_url: str, c: int) -> list[float]:
    # The SDK's own client allows 1,000 connections, enough for every C measured here.
    client = AsyncOpenAI(base_url=base_url, api_key="bench")

    async def one() -> float:
        began = time.perf_counter()
        stream = await client.chat.completions.create(
            model="bench-model", messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        first = None
        async for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = (time.perf_counter() - began) * 1000
        assert first is not None
        return first

    try:
        return list(await asyncio.gather(*(one() for _ in range(c))))
    finally:
        await client.close()


async def _through_server(ws_base: str, c: int) -> list[float]:
    run = uuid.uuid4().hex[:8]
    opened = await asyncio.gather(
        *(open_load_session(f"{ws_base}/ws/session/o{i}-{run}") for i in range(c))
    )
    sockets = [ws for ws, _ in opened]

    async def one(ws: ClientConnection) -> float:
        turn = await ask_timed(ws, "Hi")
        turn.done()  # an answer, not a refusal
        assert turn.deltas, "the answer came without a delta"
        return (turn.first_delta - turn.began) * 1000

    try:
        return list(await asyncio.gather(*(one(ws) for ws in sockets)))
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))


async def main() -> None:
    """Start the model and the server, run the interleaved rounds, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", "-c", type=int, nargs="+", default=[1, 200])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ttft-ms", type=float, default=200)
    parser.add_argument("--gap-ms", type=float, default=20)
    parser.add_argument("--tokens", type=int, default=20)
    args = parser.parse_args()
    print(
        f"workload: the openai provider against a model answering after {args.ttft_ms:g} ms, "
        f"then a token every {args.gap_ms:g} ms ({args.tokens} tokens); C concurrent requests, "
        f"one message each; {args.runs} interleaved rounds; SQLite; {os.cpu_count()} cores"
    )
    port = _free_port()
    model = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "sse_model.py"), str(port),
         str(args.ttft_ms), str(args.gap_ms), str(args.tokens)]
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    rows = []
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
            try:
                await server.wait_ready()
                await _direct(base_url, 1)  # warm both paths once
                await _through_server(f"ws://127.0.0.1:{server.port}", 1)
                for round_number in range(1, args.runs + 1):
                    for c in args.concurrency:
                        direct = await _direct(base_url, c)
                        served = await _through_server(f"ws://127.0.0.1:{server.port}", c)
                        rows.append(_row(round_number, c, direct, served))
            finally:
                server.stop()
    finally:
        model.terminate()
        model.wait(10)
    print_table("time to first token: direct vs through the server", rows)


def _row(round_number: int, c: int, direct: list[float], served: list[float]) -> dict[str, object]:
    d50, d99 = percentile(direct, 50), percentile(direct, 99)
    s50, s99 = percentile(served, 50), percentile(served, 99)
    return {
        "round": round_number,
        "C": c,
        "direct p50 ms": round(d50, 1),
        "direct p99 ms": round(d99, 1),
        "server p50 ms": round(s50, 1),
        "server p99 ms": round(s99, 1),
        "added p50 ms": round(s50 - d50, 1),
        "added p99 ms": round(s99 - d99, 1),
    }


if __name__ == "__main__":
    uvloop.run(main())
