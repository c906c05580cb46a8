"""Shutdown that lets answers end first: drain on SIGTERM before the server closes sockets."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def drain_before_signals(drain: Callable[[], Awaitable[None]]) -> Callable[[], None]:
    """Run `drain` on SIGTERM/SIGINT, then pass the signal on; returns the undo.

    The server closes every WebSocket with 1012 as soon as it sees the signal, so the
    answers' final frames must go out before it does. A second signal passes at once.
    Signals are only seen on the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    draining: list[asyncio.Task[None]] = []

    def pass_on(sig: int, frame: FrameType | None) -> None:
        handler = previous[sig]
        if callable(handler):
            handler(sig, frame)

    def handle(sig: int, frame: FrameType | None) -> None:
        if draining:
            pass_on(sig, frame)
            return

        async def drain_then_pass_on() -> None:
            try:
                await drain()
            except Exception:
                log.exception("draining the sessions failed")
            pass_on(sig, frame)

        draining.append(loop.create_task(drain_then_pass_on()))

    for sig in _SIGNALS:
        signal.signal(sig, handle)

    def undo() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return undo


def drain_from_thread(
    loop: asyncio.AbstractEventLoop, drain: Callable[[], Awaitable[None]], timeout: float
) -> Callable[[], None]:
    """A callable another thread uses to run `drain` on `loop` and wait for it."""

    def run() -> None:
        async def call() -> None:
            await drain()

        future = asyncio.run_coroutine_threadsafe(call(), loop)
        future.result(timeout)

    return run


_frozen = False


def settle_heap(young_threshold: int) -> None:
    """Once start-up is done: keep what it built out of the collector's scans, scan less often.

    Start-up leaves some 120,000 objects (modules, functions, types) that never become
    garbage, and every full collection scanned them all: under load the collector took
    a third of the server's time, each full pass a pause of over 100 ms. Frozen once per
    process (a test process starts many apps). 0 keeps Python's defaults.
    """
    global _frozen
    if young_threshold <= 0:
        return
    if not _frozen:
        gc.freeze()
        _frozen = True
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
