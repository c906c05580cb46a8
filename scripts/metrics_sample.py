"""A short load run against `python -m app`, then its `/metrics` (the sample in docs/operations.md).

    .venv/bin/python scripts/metrics_sample.py --sessions 40 --messages 5

Starts the app on a throwaway SQLite database with the offline model (paced, priced), holds
concurrent sessions (each with an observer), sends a few bad frames, cancels a few answers,
replays one session, then prints the client's own counts beside the server's metrics.
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
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.client import read_turn, read_until, receive, user_message, ws_url  # noqa: E402

KEY = "metrics-sample-key"
PRICES = '{"local-rules": {"prompt": 0.15, "completion": 0.60}}'
QUESTIONS = ("What time is it?", "Do we have any mice in stock?", "Tell me about the sea")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _until(ws: ClientConnection, kind: str) -> dict[str, object]:
    return await read_until(ws, lambda frame: frame["type"] == kind, timeout=30)


async def _session(base: str, index: int, messages: int, counts: dict[str, int]) -> None:
    url = ws_url(base, f"load-{index}", api_key=KEY, user_id=f"u{index % 5}")
    async with connect(url) as ws, connect(url + "&mode=observe") as observer:
        await receive(ws), await receive(observer)
        for n in range(messages):
            await ws.send(user_message(QUESTIONS[(index + n) % len(QUESTIONS)]))
            if n == 0 and index % 4 == 0:
                await _until(ws, "assistant.delta")
                await ws.send('{"type": "cancel"}')
            done = (await read_turn(ws, 30))[-1]
            counts[str(done["finish_reason"])] = counts.get(str(done["finish_reason"]), 0) + 1
        if index % 3 == 0:
            await ws.send('{"type": "no-such-frame"}')
            await _until(ws, "error")
            counts["invalid_message"] = counts.get("invalid_message", 0) + 1


async def _run(base: str, sessions: int, messages: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    await asyncio.gather(*(_session(base, i, messages, counts) for i in range(sessions)))
    url = ws_url(base, "load-1", api_key=KEY, user_id="u1") + "&after_seq=0"
    async with connect(url) as ws:
        await receive(ws)
        await _until(ws, "assistant.done")
    return counts


def main() -> None:
    """Serve, load, scrape, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--messages", type=int, default=5)
    args = parser.parse_args()
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUPABASE_"))}
        env.update(
            DATABASE_URL=f"sqlite+aiosqlite:///{folder}/sample.db",
            LLM_PROVIDER="local",
            LOCAL_LLM_DELAY_MS="10",
            LLM_PRICES=PRICES,
            API_KEY=KEY,
            LOG_LEVEL="warning",
            PORT=str(port),
            PYTHONPATH=str(ROOT),
        )
        server = subprocess.Popen([sys.executable, "-m", "app"], cwd=folder, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"{base}/health")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.1)
            started = time.perf_counter()
            counts = asyncio.run(_run(base, args.sessions, args.messages))
            elapsed = time.perf_counter() - started
            text = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {KEY}"}).text
        finally:
            server.terminate()
            server.wait(30)
    print(
        f"workload: {args.sessions} sessions (each with an observer) x {args.messages} messages, "
        f"LOCAL_LLM_DELAY_MS=10, SQLite, {elapsed:.1f} s; client saw {counts}"
    )
    families = {family.name for family in text_string_to_metric_families(text)}
    print(f"{len(families)} metric families; the service's own series:\n")
    for line in text.splitlines():
        if line.startswith("realtime_") or line.startswith("process_resident"):
            if "_bucket{" in line and not any(f'le="{b}"' in line for b in ("0.05", "1.0", "+Inf")):
                continue
            print(line)


if __name__ == "__main__":
    main()
