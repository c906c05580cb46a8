"""What cannot work as several processes is refused at start, saying what to set instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.client import ws_url
from tests.cluster_processes import (
    REDIS_URL,
    ROOT,
    Processes,
    cluster_env,
    drop_prefix,
    processes,
    require_redis,
    unique_prefix,
)
from tests.conftest import make_settings
from tests.processes import free_port
from tests.wsclient import ask, open_session

__all__ = ["processes"]


def _refusal(tmp_path: Path, **env: str) -> str:
    """Run `python -m app` with `env`; it must exit at once with an error; its output."""
    done = _run([sys.executable, "-m", "app"], tmp_path, **env)
    assert done.returncode != 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _run(command: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a server command to its end (it must stop by itself within a minute)."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), "LLM_PROVIDER": "local", **env}
    return subprocess.run(
        command, cwd=tmp_path, env=full, capture_output=True, text=True, timeout=60
    )


def test_several_workers_without_redis_are_refused_naming_redis_url(tmp_path: Path) -> None:
    output = _refusal(tmp_path, WORKERS="2", REDIS_URL="")
    assert "WORKERS=2 needs REDIS_URL" in output


def test_several_workers_on_sqlite_are_refused_naming_postgresql(tmp_path: Path) -> None:
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    output = _refusal(tmp_path, WORKERS="3", REDIS_URL=REDIS_URL, DATABASE_URL=sqlite)
    assert "WORKERS=3 needs DATABASE_URL on PostgreSQL" in output


async def test_a_second_process_on_the_same_sqlite_file_is_refused_and_the_first_serves(
    tmp_path: Path, processes: Processes
) -> None:
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    env = {"DATABASE_URL": sqlite, "REDIS_URL": "", "LLM_PROVIDER": "local"}
    first = await processes.start("first", env)
    output = _refusal(tmp_path, **env, PORT="1")
    assert "SQLite serves one process" in output and "REDIS_URL" in output
    ws, _ = await open_session(first.url, "still-serving")
    assert (await ask(ws, "hello"))[-1]["finish_reason"] == "stop"
    await ws.close()
    async with httpx.AsyncClient(base_url=first.url) as http:
        assert (await http.get("/health")).json()["bus"] == "memory"


async def test_a_second_process_on_one_postgresql_database_without_redis_is_refused(
    tmp_path: Path, processes: Processes, fresh_pg_url: str
) -> None:
    await require_redis()
    env = {"DATABASE_URL": fresh_pg_url, "REDIS_URL": "", "LLM_PROVIDER": "local"}
    first = await processes.start("first", env)
    output = _refusal(tmp_path, **env, PORT=str(free_port()))
    assert "cannot share a database: set REDIS_URL" in output
    # Nor may a process of the bus join a database that a process without it serves.
    output = _refusal(tmp_path, **{**env, "REDIS_URL": REDIS_URL}, PORT=str(free_port()))
    assert "a server process without REDIS_URL uses" in output and "set REDIS_URL" in output
    ws, _ = await open_session(first.url, "still-serving")
    assert (await ask(ws, "hello"))[-1]["finish_reason"] == "stop"
    await ws.close()


def test_uvicorn_workers_on_postgresql_without_redis_are_refused(
    tmp_path: Path, fresh_pg_url: str
) -> None:
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--workers", "2"]
    env = {"DATABASE_URL": fresh_pg_url, "REDIS_URL": "", "LOG_LEVEL": "info"}
    # The second worker cannot hold the database: uvicorn stops, no worker goes on serving.
    done = _run([*command, "--port", str(free_port())], tmp_path, **env)
    output = done.stdout + done.stderr
    assert "cannot share a database: set REDIS_URL" in output, output
    assert "failed to start, stopping the parent process" in output, output


def test_the_bus_is_redis_only_with_redis_url_on_postgresql() -> None:
    postgres = "postgresql://127.0.0.1:5432/x"
    assert make_settings(database_url=postgres, redis_url=REDIS_URL).bus == "redis"
    assert make_settings(database_url=postgres, redis_url=None).bus == "memory"
    assert make_settings(database_url="sqlite+aiosqlite:///x.db", redis_url=REDIS_URL).bus == (
        "memory"
    )
    clustered = make_settings(database_url=postgres, redis_url=REDIS_URL, workers=4)
    assert clustered.several_processes_problem() is None
    assert make_settings(workers=4, redis_url=None).several_processes_problem() is not None


async def test_python_m_app_with_workers_serves_one_service(
    pg_url: str, processes: Processes
) -> None:
    await require_redis()
    prefix = unique_prefix()
    server = await processes.start("workers", cluster_env(pg_url, prefix, workers=2))
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/health")).json()["bus"] == "redis"
    for index in range(10):
        session_id = f"workers-{index}-{os.getpid()}"
        ws, _ = await open_session(server.url, session_id)
        # Whichever worker the second connection reaches, the session has its writer.
        second = await _closed_code(server.url, session_id)
        assert second == 4409
        assert (await ask(ws, "hello"))[-1]["finish_reason"] == "stop"
        await ws.close()
    await drop_prefix(prefix)


async def _closed_code(base_url: str, session_id: str) -> int | None:
    ws = await connect(ws_url(base_url, session_id))
    try:
        await ws.recv()
    except ConnectionClosed:
        return ws.close_code
    await ws.close()
    return None
