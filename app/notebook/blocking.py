"""Run a coroutine to completion from plain code, also where an event loop is already running."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` and return its result, on a helper thread when this one has a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Jupyter and Colab run cells inside a loop, where asyncio.run refuses to start a second one.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis") as pool:
        return pool.submit(asyncio.run, coroutine).result()
