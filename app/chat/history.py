"""Model history as turns: built from stored events, a tool call never apart from its result.

Pure: events in, chat messages out. A turn is one user message and everything that answered it
(assistant `tool_calls` messages, `tool` messages, the answer's text); compaction folds whole turns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.chat.records import to_json
from app.llm.base import Message, ToolCallWire
from app.llm.tokens import BYTES_PER_TOKEN, JSON_BYTES_PER_TOKEN, estimate_message
from app.store.base import EventRecord


@dataclass(frozen=True, slots=True)
class ContextSummary:
    """The latest folded summary: its text and the id of the last event it covers."""

    text: str
    covers_through_id: int


@dataclass(slots=True)
class Turn:
    """One user message and its answer as model messages; `first_event_id` once stored."""

    message_id: str | None
    messages: list[Message] = field(default_factory=list)
    first_event_id: int | None = None

    @property
    def tokens(self) -> int:
        """The turn's estimated size."""
        return sum(estimate_message(message) for message in self.messages)


def summary_message(summary: ContextSummary) -> Message:
    """The summary as the system message that stands for the turns it folded."""
    return {"role": "system", "content": f"Summary of the earlier conversation:\n{summary.text}"}


def truncate_text(text: str, max_tokens: int, *, per_token: int = BYTES_PER_TOKEN) -> str:
    """`text` cut to about `max_tokens`, with a marker saying how much was left out."""
    limit = max(0, max_tokens) * per_token
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return text
    marker_room = 64
    kept = raw[: max(0, limit - marker_room)].decode("utf-8", "ignore")
    return f"{kept}…[truncated: {len(text) - len(kept)} of {len(text)} characters left out]"


def tool_message(call_id: str, content: str, *, max_tokens: int) -> Message:
    """The `tool` message carrying one result's JSON, an oversize one truncated with a marker."""
    cut = truncate_text(content, max_tokens, per_token=JSON_BYTES_PER_TOKEN)
    return {"role": "tool", "tool_call_id": call_id, "content": cut}


def pair_tool_calls(messages: list[Message]) -> list[Message]:
    """`messages` less calls that got no result and results of no call (a cut-off answer)."""
    answered = {m.get("tool_call_id") for m in messages if m["role"] == "tool"}
    asked: set[str] = set()
    kept: list[Message] = []
    for message in messages:
        calls = message.get("tool_calls")
        if calls is not None:
            paired = [call for call in calls if call["id"] in answered]
            asked.update(call["id"] for call in paired)
            if paired:
                kept.append({**message, "tool_calls": paired})
            elif message.get("content"):
                kept.append({"role": "assistant", "content": message.get("content")})
        elif message["role"] != "tool" or message.get("tool_call_id") in asked:
            kept.append(message)
    return kept


def after_summary(events: list[EventRecord]) -> tuple[ContextSummary | None, list[EventRecord]]:
    """The latest `context_summary` among `events` and the events it does not cover."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        covers = event.metadata.get("covers_through_id")
        if event.event_type == "context_summary" and isinstance(covers, int):
            summary = ContextSummary(text=event.content, covers_through_id=covers)
            rest = [e for e in events if e.id > covers and e.event_type != "context_summary"]
            return summary, rest
    return None, [e for e in events if e.event_type != "context_summary"]


def turns_from_events(events: list[EventRecord], *, max_result_tokens: int) -> list[Turn]:
    """The stored conversation as turns; calls without results (and results without calls) drop."""
    builder = _TurnBuilder(max_result_tokens)
    for event in events:
        builder.add(event)
    return builder.finish()


class _TurnBuilder:
    """Groups events into turns; a round's calls all come before the round's results."""

    def __init__(self, max_result_tokens: int) -> None:
        self._max_result_tokens = max_result_tokens
        self._turns: list[Turn] = []
        self._calls: list[EventRecord] = []
        self._results: dict[str, EventRecord] = {}

    def add(self, event: EventRecord) -> None:
        kind = event.event_type
        if kind == "user_message":
            self._flush_round()
            message_id = event.metadata.get("message_id")
            turn = Turn(message_id=message_id if isinstance(message_id, str) else None)
            turn.first_event_id = event.id
            turn.messages.append({"role": "user", "content": event.content})
            self._turns.append(turn)
        elif kind == "tool_call":
            if self._results:
                self._flush_round()
            self._calls.append(event)
        elif kind == "tool_result":
            self._results[str(event.metadata.get("call_id"))] = event
        elif kind == "assistant_message":
            self._flush_round()
            if event.content:
                self._current(event).messages.append(
                    {"role": "assistant", "content": event.content}
                )

    def finish(self) -> list[Turn]:
        self._flush_round()
        return self._turns

    def _current(self, event: EventRecord) -> Turn:
        if not self._turns:  # traffic whose question is older than what was read
            self._turns.append(Turn(message_id=None, first_event_id=event.id))
        return self._turns[-1]

    def _flush_round(self) -> None:
        paired = [c for c in self._calls if str(c.metadata.get("call_id")) in self._results]
        if paired:
            turn = self._current(paired[0])
            turn.messages.append(
                {"role": "assistant", "content": None, "tool_calls": [_wire(c) for c in paired]}
            )
            for call in paired:
                result = self._results[str(call.metadata.get("call_id"))]
                turn.messages.append(
                    tool_message(
                        str(call.metadata.get("call_id")),
                        result.content,
                        max_tokens=self._max_result_tokens,
                    )
                )
        self._calls = []
        self._results = {}


def _wire(call: EventRecord) -> ToolCallWire:
    arguments = call.metadata.get("arguments")
    return {
        "id": str(call.metadata.get("call_id")),
        "type": "function",
        "function": {
            "name": str(call.metadata.get("name")),
            "arguments": to_json(arguments) if arguments is not None else call.content,
        },
    }
