"""Over-limit traffic for a running server: big request bodies and big WebSocket frames.

Each sender stops as soon as the server answers or closes, so a refused attack costs the sender
little; used by tests/test_limits.py, tests/test_memory.py and bench/limits_memory.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psutil
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

CHUNK = 64 * 1024
MiB = 1024 * 1024


def request_head(path: str, headers: dict[str, str]) -> bytes:
    """An HTTP/1.1 POST head with a JSON content type and these headers."""
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The pieces in HTTP chunked transfer encoding (the closing chunk included)."""
    for piece in pieces:
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


def padded_event(session_id: str, size: int) -> Iterator[bytes]:
    """A `POST /events` body of `size` bytes, in CHUNK pieces: a user message with padding."""
    head = b'{"session_id": "%s", "event_type": "user_message", "metadata": {"pad": "' % (
        session_id.encode()
    )
    tail = b'"}}'
    yield head
    left = size - len(head) - len(tail)
    while left > 0:
        yield b"x" * min(CHUNK, left)
        left -= CHUNK
    yield tail


async def raw_exchange(base_url: str, head: bytes, body: Iterable[bytes]) -> tuple[int, int]:
    """Send a request head, then body pieces until the server answers (or stops reading).

    Returns the answer's status (0 when the connection closed without one) and how many body
    bytes had been written when it came.
    """
    address = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    sent = 0
    try:
        writer.write(head)
        answer = asyncio.ensure_future(reader.readline())
        for piece in body:
            if answer.done():
                break
            writer.write(piece)
            sent += len(piece)
            drained = asyncio.ensure_future(writer.drain())
            await asyncio.wait({answer, drained}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
            drained.cancel()
        status_line = await asyncio.wait_for(answer, 30)
        return (int(status_line.split()[1]) if status_line else 0), sent
    except ConnectionError:
        return 0, sent
    finally:
        writer.close()


async def send_big_frame(
    base_url: str, session_id: str, size: int, *, compression: str | None
) -> int | None:
    """Open a session, send one text frame of `size` bytes; the close code the server sent."""
    url = base_url.replace("http", "ws", 1) + f"/ws/session/{session_id}"
    try:
        async with connect(url, compression=compression, max_size=None) as ws:
            await ws.recv()
            await ws.send("a" * size)
            # The server answers (an error frame) or closes; either way it read the frame.
            await asyncio.wait_for(ws.recv(), 60)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    return None


@contextmanager
def peak_rss(pid: int) -> Iterator[list[int]]:
    """Sample a process's resident memory every 5 ms in a thread; `[start, peak]` in bytes."""
    process = psutil.Process(pid)
    seen = [process.memory_info().rss] * 2
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            seen[1] = max(seen[1], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        stop.set()
        sampler.join()
        seen[1] = max(seen[1], process.memory_info().rss)
