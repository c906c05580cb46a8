"""A session's model context: the system prompt, the latest summary, the turns after it. No I/O."""

from __future__ import annotations

import math
from typing import Any

from app.chat.budget import Budget, Counted, fold_count, project
from app.chat.history import (
    ContextSummary,
    Turn,
    after_summary,
    summary_message,
    tool_message,
    turns_from_events,
)
from app.llm.base import Message
from app.llm.tokens import estimate_message, estimate_messages
from app.store.base import EventRecord


class ContextWindow:
    """What the next model call carries, and how big the provider said the last one was."""

    def __init__(
        self,
        *,
        system_prompt: str,
        budget: Budget,
        summary: ContextSummary | None = None,
        turns: list[Turn] | None = None,
        ratio: float = 1.0,
    ) -> None:
        self.budget = budget
        self.summary = summary
        self.turns: list[Turn] = turns or []
        self.ratio = max(1.0, ratio)
        self._system: Message = {"role": "system", "content": system_prompt}
        # Bumped whenever the history changes other than at its end: earlier counts then lapse.
        self._generation = 0
        self._counted: Counted | None = None

    def begin(self, message_id: str, content: str) -> Turn:
        """Start the turn of a new user message."""
        turn = Turn(message_id=message_id, messages=[{"role": "user", "content": content}])
        self.turns.append(turn)
        return turn

    def drop(self, turn: Turn) -> None:
        """Forget a turn whose question could not be stored."""
        if turn in self.turns:
            self.turns.remove(turn)
            self._generation += 1

    def messages(self) -> list[Message]:
        """The next call's messages: system prompt, summary, every turn's messages."""
        head = [self._system]
        if self.summary is not None:
            head.append(summary_message(self.summary))
        return [*head, *(message for turn in self.turns for message in turn.messages)]

    @property
    def message_count(self) -> int:
        """How many user and assistant text messages the turns hold."""
        return sum(
            1
            for turn in self.turns
            for message in turn.messages
            if message["role"] in ("user", "assistant") and message.get("content")
        )

    def project(self, messages: list[Message], *, tools_tokens: int) -> int:
        """The prompt tokens `messages` will take (the last reported count plus the new part)."""
        return project(
            messages,
            tools_tokens=tools_tokens,
            counted=self._counted,
            generation=self._generation,
            ratio=self.ratio,
        )

    def record(self, prompt_tokens: int, *, messages: list[Message], tools_tokens: int) -> None:
        """What the provider reported for a call carrying `messages`: the ground truth."""
        estimated = estimate_messages(messages) + tools_tokens
        counted = Counted(prompt_tokens, estimated, len(messages), self._generation)
        self._counted = counted
        self.ratio = counted.ratio

    def counted_metadata(self) -> dict[str, Any]:
        """The last reported count, stored with an answer so a resumed session keeps its ratio."""
        counted = self._counted
        if counted is None:
            return {}
        return {"context": {"prompt_tokens": counted.prompt_tokens, "estimated": counted.estimated}}

    def tool_message(self, message: Message) -> Message:
        """A `tool` message with an oversize result truncated to the budget's share."""
        return tool_message(
            message.get("tool_call_id") or "",
            message.get("content") or "",
            max_tokens=self.budget.tool_result_tokens,
        )

    def fold_plan(self, *, tools_tokens: int) -> int:
        """How many of the oldest turns a compaction should fold (0: nothing to fold)."""
        fixed = estimate_message(self._system) + self.budget.summary_tokens + tools_tokens
        return fold_count(
            [math.ceil(turn.tokens * self.ratio) for turn in self.turns],
            fixed=math.ceil(fixed * self.ratio),
            target=self.budget.fold_target,
        )

    def apply_fold(self, count: int, summary: ContextSummary) -> None:
        """Replace the `count` oldest turns (and the previous summary) with `summary`."""
        self.turns = self.turns[count:]
        self.summary = summary
        self._generation += 1


def window_from_events(
    *, system_prompt: str, context_tokens: int, events: list[EventRecord]
) -> ContextWindow:
    """The context of a session as stored: its latest summary and the turns after it."""
    budget = Budget(context_tokens)
    summary, rest = after_summary(events)
    return ContextWindow(
        system_prompt=system_prompt,
        budget=budget,
        summary=summary,
        turns=turns_from_events(rest, max_result_tokens=budget.tool_result_tokens),
        ratio=stored_ratio(events),
    )


class StoredContext:
    """A session's context as its open read it: rebuilt into a window on first use, so that
    an open's replay goes out before that work."""

    def __init__(
        self, *, system_prompt: str, context_tokens: int, events: list[EventRecord]
    ) -> None:
        """Keep the events an open read until `window` is first asked for."""
        self._system_prompt = system_prompt
        self._context_tokens = context_tokens
        self._events: list[EventRecord] | None = events
        self._window: ContextWindow | None = None
        self._stored_messages = stored_message_count(events)

    @property
    def window(self) -> ContextWindow:
        """The window, built from the stored events the first time (and the events let go of)."""
        if self._window is None:
            self._window = window_from_events(
                system_prompt=self._system_prompt,
                context_tokens=self._context_tokens,
                events=self._events or [],
            )
            self._events = None
        return self._window

    @property
    def message_count(self) -> int:
        """The window's `message_count`, also before it is built."""
        if self._window is None:
            return self._stored_messages
        return self._window.message_count


def stored_message_count(events: list[EventRecord]) -> int:
    """What `message_count` of the window built from `events` is, without building it: the
    user and assistant text messages after the latest summary (tool traffic has no text)."""
    _, rest = after_summary(events)
    return sum(
        1
        for event in rest
        if event.event_type in ("user_message", "assistant_message") and event.content
    )


def stored_ratio(events: list[EventRecord]) -> float:
    """How much more the provider counted than the estimate, as the latest answer stored it."""
    for event in reversed(events):
        context = event.metadata.get("context")
        if event.event_type == "assistant_message" and isinstance(context, dict):
            prompt, estimated = context.get("prompt_tokens"), context.get("estimated")
            if isinstance(prompt, int) and isinstance(estimated, int) and estimated > 0:
                return max(1.0, prompt / estimated)
    return 1.0
