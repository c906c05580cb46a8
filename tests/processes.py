"""Run the server as a real process (`python -m app`, `uvicorn …`) for tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def env_for(**values: str) -> dict[str, str]:
    """The environment for a server process: this one's, less any provider or Supabase key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUPABASE_"))}
    env.update({"LLM_PROVIDER": "local", "API_KEY": "", "LOG_LEVEL": "warning"}, **values)
    return env


def _listens(pid: int, port: int) -> bool:
    # Another process may have taken the free port first: the answer must come from ours.
    sockets = psutil.Process(pid).net_connections(kind="inet")
    if any(s.status == psutil.CONN_LISTEN and s.laddr.port == port for s in sockets):
        return True
    raise AssertionError(f"port {port} answers, but not from the server started (pid {pid})")


@contextmanager
def serving(
    command: list[str], cwd: Path, **env: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run a server command on a free port until `/health` answers; kill it afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [arg.replace("{port}", str(port)) for arg in command],
        cwd=cwd,
        env=env_for(**({"PORT": str(port), "PYTHONPATH": str(ROOT)} | env)),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{base}/health").status_code in (200, 401) and _listens(
                    process.pid, port
                ):
                    break
            except httpx.TransportError:
                assert process.poll() is None, "the server exited at start-up"
                assert time.monotonic() < deadline, "the server did not start in 60 s"
                time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            # Asked to stop first: a server with workers stops them before it exits.
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def served_app(
    folder: Path, **env: str
) -> AbstractContextManager[tuple[subprocess.Popen[bytes], str]]:
    """`python -m app` run in `folder` with these variables: the process and its base URL."""
    return serving([sys.executable, "-m", "app"], folder, **env)
