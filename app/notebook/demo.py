"""Conversations from a notebook cell: printed as they stream, and demo sessions to analyse."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Sequence
from typing import TextIO

from app.client import BackendClient, ChatLog, Frame, converse
from app.notebook.blocking import run_blocking

# Short conversations the local provider answers with words and with both demo tools.
DEMO_SCRIPTS: tuple[tuple[str, ...], ...] = (
    ("Hello! What can you do?", "What time is it?", "Thanks, bye!"),
    ("Do we have any mice in stock?", "Are there keyboards available?", "Great, thank you."),
    ("What time is it in Tokyo?", "Do we have any monitors in stock?", "Bye!"),
    ("Can you explain what a WebSocket is?", "How is it different from HTTP polling?"),
    ("Check the inventory for laptops", "What's the date today?", "Do you remember what I asked?"),
)
DEMO_CONCURRENCY = 4


class StreamPrinter:
    """Prints frames as they arrive: answers word by word, tool calls on their own lines."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stdout
        self._answering = False

    def __call__(self, frame: Frame) -> None:
        """Print one frame."""
        kind = frame["type"]
        if kind == "assistant.delta":
            if not self._answering:
                self._write("assistant: ")
                self._answering = True
            self._write(frame["delta"])
            return
        if self._answering:
            self._write("\n")
            self._answering = False
        if kind == "session.started":
            state = "resumed" if frame["resumed"] else "new"
            self._write(f"session {frame['session_id']} ({state}, user {frame['user_id']})\n")
        elif kind == "user.message":
            self._write(f"\nyou: {frame['content']}\n")
        elif kind == "tool.call":
            self._write(f"  [tool call] {frame['name']}({json.dumps(frame['arguments'])})\n")
        elif kind == "tool.result":
            self._write(f"  [tool result] {json.dumps(frame['result'])}\n")
        elif kind == "assistant.done":
            tokens = (frame.get("usage") or {}).get("total_tokens", "?")
            self._write(f"  [done: {frame['finish_reason']}, {tokens} tokens]\n")
        elif kind == "error":
            self._write(f"  [error {frame['code']}] {frame['message']}\n")

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()


def chat(
    base_url: str,
    messages: Sequence[str],
    *,
    session_id: str | None = None,
    user_id: str = "notebook",
    api_key: str | None = None,
    echo: bool = True,
) -> ChatLog:
    """Hold one conversation from plain code (a notebook cell), printing it as it streams."""
    printer = StreamPrinter() if echo else None
    return run_blocking(
        converse(
            base_url,
            messages,
            session_id=session_id,
            user_id=user_id,
            api_key=api_key,
            on_frame=printer,
        )
    )


def generate_demo_sessions(
    base_url: str, n: int, api_key: str | None = None, *, wait_for_summaries: bool = True
) -> list[str]:
    """Hold `n` short demo conversations (tool calls included); the ids of their sessions."""
    ids = [f"demo-{uuid.uuid4().hex[:10]}" for _ in range(n)]
    run_blocking(_hold_demos(base_url, ids, api_key))
    if wait_for_summaries:
        with BackendClient(base_url, api_key=api_key) as client:
            for session_id in ids:
                client.wait_for_summary(session_id)
    return ids


async def _hold_demos(base_url: str, ids: list[str], api_key: str | None) -> None:
    # A few at a time, as several users would; more would only queue on the server.
    gate = asyncio.Semaphore(DEMO_CONCURRENCY)

    async def hold(index: int, session_id: str) -> None:
        async with gate:
            await converse(
                base_url,
                DEMO_SCRIPTS[index % len(DEMO_SCRIPTS)],
                session_id=session_id,
                user_id=f"demo-user-{index % 3 + 1}",
                api_key=api_key,
            )

    await asyncio.gather(*(hold(i, session_id) for i, session_id in enumerate(ids)))
