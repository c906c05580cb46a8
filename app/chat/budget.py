"""The context budget: how big the next model call is, and how many old turns to fold. Pure.

The size of a call is what the provider reported for the previous call of the same history
(`usage.prompt_tokens`, the ground truth) plus an estimate of the messages added since
(app/llm/tokens.py), scaled up when the provider has been counting more than the estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.llm.base import Message
from app.llm.tokens import estimate_messages

# Shares of LLM_CONTEXT_TOKENS: a fold brings the history down to half, so compactions stay
# rare; a summary and a single tool result may each take an eighth.
FOLD_TARGET_SHARE = 0.5
SUMMARY_SHARE = 0.125
TOOL_RESULT_SHARE = 0.125
# Kept free below the limit: what was added since the last reported count is only estimated,
# and a model's tokenizer can count text of another kind (JSON, digits) a little higher.
HEADROOM_SHARE = 0.03


@dataclass(frozen=True, slots=True)
class Counted:
    """What the provider reported for one call: its prompt tokens and our estimate of them."""

    prompt_tokens: int
    estimated: int
    messages: int
    generation: int

    @property
    def ratio(self) -> float:
        """How much more the provider counts than the estimate (never below 1)."""
        return max(1.0, self.prompt_tokens / max(1, self.estimated))


@dataclass(frozen=True, slots=True)
class Budget:
    """LLM_CONTEXT_TOKENS and the shares derived from it."""

    limit: int

    @property
    def call_limit(self) -> int:
        """The largest projected call sent without folding first (the limit less headroom)."""
        return self.limit - max(1, math.ceil(self.limit * HEADROOM_SHARE))

    @property
    def fold_target(self) -> int:
        """The size a compaction aims for."""
        return int(self.limit * FOLD_TARGET_SHARE)

    @property
    def summary_tokens(self) -> int:
        """The most a context summary may take."""
        return max(1, int(self.limit * SUMMARY_SHARE))

    @property
    def tool_result_tokens(self) -> int:
        """The most one tool result may take in the history."""
        return max(1, int(self.limit * TOOL_RESULT_SHARE))


def project(
    messages: list[Message],
    *,
    tools_tokens: int,
    counted: Counted | None,
    generation: int,
    ratio: float,
) -> int:
    """The next call's prompt tokens: the last reported count plus an estimate of what is new."""
    fresh = counted is not None and counted.generation == generation
    if fresh and counted is not None and counted.messages <= len(messages):
        added = estimate_messages(messages[counted.messages :])
        return counted.prompt_tokens + math.ceil(added * ratio)
    return math.ceil((estimate_messages(messages) + tools_tokens) * ratio)


def fold_count(turn_tokens: list[int], *, fixed: int, target: int) -> int:
    """How many of the oldest turns to fold so `fixed` plus the rest fit `target`.

    The last turn (the one being answered) is never folded; whole turns only, so a tool call
    and its result always go together.
    """
    remaining = fixed + sum(turn_tokens)
    count = 0
    while count < len(turn_tokens) - 1 and remaining > target:
        remaining -= turn_tokens[count]
        count += 1
    return count
