"""`python -m app` as a process of its own, for tests that measure it or run several at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served_app(folder: Path, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run `python -m app` in `folder` with these variables; the process and its base URL."""
    port = free_port()
    values = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUPABASE_"))}
    values.update(
        LLM_PROVIDER="local", API_KEY="", LOG_LEVEL="warning", PORT=str(port), PYTHONPATH=str(ROOT)
    )
    values.update(env)
    process = subprocess.Popen([sys.executable, "-m", "app"], cwd=folder, env=values)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                assert process.poll() is None, "the server exited at start-up"
                assert time.monotonic() < deadline, "the server did not start in 60 s"
                time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
