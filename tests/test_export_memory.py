"""`GET /events/export` streams 100,000 events (about 120 MB) while the server's memory stays flat.

The server is `python -m app` in its own process, so its resident memory is its own; the
database is filled beforehand with the synchronous driver, which is quicker than 100,000 posts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, insert

from app.notebook.schema import upgrade_to_head
from app.store.tables import session_events, sessions
from tests.processes import served_app

pytestmark = pytest.mark.timeout(300)
EVENTS = 100_000
SESSIONS = 100
CONTENT = "x" * 1000
# Holding the export in memory would take well over its 120 MB; a page at a time takes a few.
BOUND_BYTES = 48 * 2**20


def _fill(path: Path) -> datetime:
    """SESSIONS sessions with EVENTS events between them, a millisecond apart; the first time."""
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")  # the schema as the app makes it
    engine = create_engine(f"sqlite:///{path}")
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


@pytest.fixture(scope="module")
def big_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[psutil.Process, str, datetime]]:
    """`python -m app` on a database of EVENTS events (filled once for the module)."""
    folder = tmp_path_factory.mktemp("big")
    start = _fill(folder / "big.db")
    with served_app(folder, DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'big.db'}") as (
        process,
        base,
    ):
        yield psutil.Process(process.pid), base, start


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
