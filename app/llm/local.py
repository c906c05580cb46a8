"""The offline provider: deterministic rule-based answers and tool calls, streamed word by word."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable

from app.config import Settings
from app.llm.base import Finish, Message, StreamItem, TextDelta, ToolSpec
from app.llm.local_rules import compose_answer, split_words
from app.llm.local_tools import plan_tool_calls
from app.llm.tokens import estimate_messages, estimate_text, estimate_tools

# Pieces that are due go without a loop turn each (at full speed a short answer is one
# burst, one frame); every this many pieces the provider checks whether it has held the
# loop for a turn's worth of time, so long answers never starve it.
_YIELD_EVERY = 16
_TURN_SECONDS = 0.001


class LocalProvider:
    """Answers by rules without a network; calls an offered tool when a message asks for it."""

    name = "local"
    model = "local-rules"
    writes_summaries = False

    def __init__(
        self, *, delay_ms: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._delay = delay_ms / 1000
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalProvider:
        """Build the provider with the configured pacing."""
        return cls(delay_ms=settings.local_llm_delay_ms)

    async def stream(
        self, messages: list[Message], tools: list[ToolSpec]
    ) -> AsyncGenerator[StreamItem, None]:
        """One round: tool calls when the last message asks for a tool, else a streamed answer."""
        # The same estimate the context budget uses: the counts it gets back agree with it.
        prompt_tokens = estimate_messages(messages) + estimate_tools(tools)
        calls = plan_tool_calls(messages, tools)
        if calls:
            for call in calls:
                yield call
            arguments = sum(estimate_text(json.dumps(c.arguments)) for c in calls)
            yield Finish("tool_calls", usage=_usage(prompt_tokens, arguments))
            return
        text = compose_answer(messages)
        start = turn = self._clock()
        for index, piece in enumerate(split_words(text)):
            if index and self._delay:
                # Piece i is due at start + i x delay: late wake-ups do not add up over an
                # answer, and the pieces already due when it wakes go at once.
                wait = start + index * self._delay - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                    turn = self._clock()
            if index % _YIELD_EVERY == 0 and index and self._clock() - turn >= _TURN_SECONDS:
                await asyncio.sleep(0)
                turn = self._clock()
            yield TextDelta(piece)
        yield Finish("stop", usage=_usage(prompt_tokens, estimate_text(text)))

    async def complete(self, messages: list[Message]) -> str:
        """The same deterministic answer, whole."""
        return compose_answer(messages)

    async def close(self) -> None:
        """Nothing to release."""


def _usage(prompt: int, completion: int) -> dict[str, int]:
    # The byte estimate stands in for tokens: the local model has no tokenizer.
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
