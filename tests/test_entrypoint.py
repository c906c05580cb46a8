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
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.serving import uvicorn_flags, ws_max_size
from tests.conftest import make_settings
from tests.wsclient import ask, open_session, receive

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


@contextmanager
def serving(
    command: list[str], cwd: Path, **env: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run a server command on a free port until `/health` answers; kill it afterwards."""
    port = _free_port()
    process = subprocess.Popen(
        [arg.replace("{port}", str(port)) for arg in command],
        cwd=cwd,
        env=_env(PORT=str(port), PYTHONPATH=str(ROOT), **env),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{base}/health").status_code in (200, 401):
                    break
            except httpx.TransportError:
                assert process.poll() is None, "the server exited at start-up"
                assert time.monotonic() < deadline, "the server did not start in 60 s"
                time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`python -m app` on a free port with its database in a temporary folder."""
    with serving([sys.executable, "-m", "app"], tmp_path) as running:
        yield running


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


async def test_the_module_serves_with_the_frame_limits_and_no_deflate(
    served: tuple[subprocess.Popen[bytes], str],
) -> None:
    _, base = served
    await _assert_frame_limits(base)


async def _assert_frame_limits(base: str) -> None:
    url = base.replace("http", "ws", 1) + "/ws/session/limits"
    async with connect(url, compression="deflate") as ws:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        assert (await receive(ws))["type"] == "session.started"
        await ws.send("x" * (ws_max_size(8000) + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


UVICORN = [sys.executable, "-m", "uvicorn", "app.main:app", "--port", "{port}"]
FASTAPI = [
    sys.executable,
    "-m",
    "fastapi",
    "run",
    str(ROOT / "app" / "main.py"),
    "--port",
    "{port}",
]


@pytest.mark.parametrize("command", [UVICORN, FASTAPI], ids=["uvicorn", "fastapi-run"])
async def test_app_main_app_serves_on_the_environment_settings(
    command: list[str], tmp_path: Path
) -> None:
    database = tmp_path / "elsewhere.db"
    env = {"API_KEY": "env-key", "DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    with serving(command, tmp_path, **env) as (_, base):
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/sessions")).status_code == 401
            keyed = {"Authorization": "Bearer env-key"}
            created = await http.post("/sessions", json={"session_id": "env-1"}, headers=keyed)
            assert created.status_code == 201
            assert (await http.post("/events", content=b" " * (2 << 20))).status_code == 413
    with closing(sqlite3.connect(database)) as db:
        assert db.execute("select session_id from sessions").fetchall() == [("env-1",)]


async def test_plain_uvicorn_with_the_documented_flags_has_the_frame_limits(
    tmp_path: Path,
) -> None:
    with serving([*UVICORN, *uvicorn_flags(make_settings())], tmp_path) as (_, base):
        await _assert_frame_limits(base)
