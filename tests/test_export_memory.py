"""`GET /events/export` streams 100,000 events (about 120 MB) while the server's memory stays flat.

The server is `python -m app` in its own process, so its resident memory is its own; the
database is filled beforehand with the synchronous driver, which is quicker than 100,000 posts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, insert

from app.store.tables import metadata, session_events, sessions

pytestmark = pytest.mark.timeout(300)
ROOT = Path(__file__).resolve().parents[1]
EVENTS = 100_000
SESSIONS = 100
CONTENT = "x" * 1000
# Holding the export in memory would take well over its 120 MB; a page at a time takes a few.
BOUND_BYTES = 48 * 2**20


def _fill(path: Path) -> datetime:
    """SESSIONS sessions with EVENTS events between them, a millisecond apart; the first time."""
    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(sessions),
            [
                {"session_id": f"big-{n}", "user_id": f"user-{n % 7}", "start_time": start}
                for n in range(SESSIONS)
            ],
        )
        for first in range(0, EVENTS, 10_000):
            rows = [
                {
                    "session_id": f"big-{n % SESSIONS}",
                    "event_type": "user_message",
                    "role": "user",
                    "content": CONTENT,
                    "metadata": {"seq": n, "message_id": f"msg_{n:08d}"},
                    "created_at": start + timedelta(milliseconds=n),
                }
                for n in range(first, first + 10_000)
            ]
            conn.execute(insert(session_events), rows)
    engine.dispose()
    return start


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def big_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[psutil.Process, str, datetime]]:
    """`python -m app` on a database of EVENTS events (filled once for the module)."""
    tmp_path = tmp_path_factory.mktemp("big")
    start = _fill(tmp_path / "big.db")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUPABASE_"))}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'big.db'}",
        LLM_PROVIDER="local",
        API_KEY="",
        LOG_LEVEL="warning",
        PORT=str(port),
        PYTHONPATH=str(ROOT),
    )
    process = subprocess.Popen([sys.executable, "-m", "app"], cwd=tmp_path, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                break
        except httpx.TransportError:
            assert process.poll() is None, "the server exited at start-up"
            assert time.monotonic() < deadline, "the server did not start in 60 s"
            time.sleep(0.1)
    try:
        yield psutil.Process(process.pid), base, start
    finally:
        process.kill()
        process.wait()


class PeakMemory:
    """Samples a process's resident memory on a thread; `peak` is the highest seen."""

    def __init__(self, process: psutil.Process) -> None:
        self._process = process
        self.peak = process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_exporting_100000_events_keeps_the_server_memory_bounded(
    big_server: tuple[psutil.Process, str, datetime], kind: str
) -> None:
    process, base, start = big_server
    # Warm every code path on a small range first, so the baseline includes them.
    early = (start + timedelta(seconds=2)).isoformat()
    warm = httpx.get(f"{base}/events/export", params={"format": kind, "until": early})
    assert warm.status_code == 200 and warm.text.count("\n") in (2000, 2001)
    baseline = process.memory_info().rss
    lines = size = 0
    with (
        PeakMemory(process) as memory,
        httpx.stream(
            "GET", f"{base}/events/export", params={"format": kind}, timeout=120
        ) as answer,
    ):
        assert answer.status_code == 200
        last = b""
        for chunk in answer.iter_bytes():
            lines += chunk.count(b"\n")
            size += len(chunk)
            last = chunk
    header = 1 if kind == "csv" else 0
    assert lines == EVENTS + header
    assert b"msg_00099999" in last
    growth = memory.peak - baseline
    print(
        f"\nexport {kind}: {EVENTS:,} events, {size / 2**20:.0f} MiB streamed; server RSS "
        f"{baseline / 2**20:.0f} MiB before, peak {memory.peak / 2**20:.0f} MiB "
        f"(+{growth / 2**20:.1f} MiB)"
    )
    assert size > 100 * 2**20
    assert growth < BOUND_BYTES
