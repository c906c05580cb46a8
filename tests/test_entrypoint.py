"""`python -m app` (what `make run` starts) as a real process: serves, chats, shuts down cleanly."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.wsclient import ask, open_session

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUPABASE_"))}
    env.update({"LLM_PROVIDER": "local", "API_KEY": "", "LOG_LEVEL": "warning"}, **values)
    return env


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`python -m app` on a free port with its database in a temporary folder."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app"],
        cwd=tmp_path,
        env=_env(PORT=str(port), PYTHONPATH=str(ROOT)),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                break
        except httpx.TransportError:
            assert process.poll() is None, "the server exited at start-up"
            assert time.monotonic() < deadline, "the server did not start in 30 s"
            time.sleep(0.1)
    yield process, base
    if process.poll() is None:
        process.kill()
        process.wait()


async def test_the_module_serves_the_page_api_and_websocket_and_stops_on_sigterm(
    served: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    process, base = served
    async with httpx.AsyncClient(base_url=base) as http:
        page = await http.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert (await http.get("/health")).json()["storage"] == "sqlite"
    ws, _ = await open_session(base, "entry-1")
    assert (await ask(ws, "What time is it?"))[-1]["finish_reason"] == "stop"
    await ws.close()
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then exits by the signal it received.
    assert process.wait(30) in (0, -signal.SIGTERM)
    with closing(sqlite3.connect(tmp_path / "data" / "realtime.db")) as db:
        status, summary = db.execute(
            "select status, summary from sessions where session_id = 'entry-1'"
        ).fetchone()
    assert status == "ended" and "get_current_time" in summary


def test_a_malformed_database_url_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=tmp_path,
        env=_env(DATABASE_URL="mysql://nope", PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr and "unsupported database" in result.stderr
