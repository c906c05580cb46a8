"""What a notebook started (servers, tunnels), so that running it again stops them first."""

from __future__ import annotations

from collections.abc import Callable

# Kept in the module: a kernel imports it once, so a second "Run all" sees the first one's.
_STARTED: list[tuple[str, Callable[[], object]]] = []


def track(description: str, stop: Callable[[], object]) -> None:
    """Remember something started, with how to stop it."""
    _STARTED.append((description, stop))


def stop_started() -> None:
    """Stop everything tracked, newest first, and say what was stopped."""
    while _STARTED:
        description, stop = _STARTED.pop()
        stop()
        print("stopped", description)
