"""One answer as a pure accumulator: provider items in, frames and the answer's record out."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, assert_never

from app.chat.events import AssistantDelta, AssistantDone, ToolCall, ToolResult
from app.chat.records import to_json
from app.llm.base import Finish, Message, StreamItem, TextDelta, ToolCallRequest
from app.vocabulary import FinishReason

# What a model round's finish means for the answer (a round asking for tools is not an end).
_ANSWER_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "cancelled": "cancelled",
    "error": "error",
    "tool_calls": "stop",
}


class TurnState:
    """Everything one answer has gathered so far; no I/O, so it is tested with plain items."""

    def __init__(self, message_id: str, *, clock: Callable[[], float] = time.perf_counter) -> None:
        self.message_id = message_id
        self._clock = clock
        self._started = clock()
        self._first_token: float | None = None
        self.parts: list[str] = []
        self.usage: dict[str, int] = {}
        self.calls: list[ToolCallRequest] = []
        self.round_finish = "stop"
        self.round_prompt_tokens: int | None = None
        self.tool_calls = 0

    def start_round(self) -> None:
        """Forget the previous round's tool calls and finish."""
        self.calls = []
        self.round_finish = "stop"
        self.round_prompt_tokens = None

    def handle(self, item: StreamItem) -> AssistantDelta | ToolCall | None:
        """Take one provider item; return the frame it becomes, if any."""
        if isinstance(item, TextDelta):
            if self._first_token is None:
                self._first_token = self._clock()
            self.parts.append(item.text)
            return AssistantDelta(message_id=self.message_id, delta=item.text)
        if isinstance(item, ToolCallRequest):
            self.calls.append(item)
            return ToolCall(
                message_id=self.message_id,
                call_id=item.call_id,
                name=item.name,
                arguments=item.arguments,
            )
        if isinstance(item, Finish):
            self.round_finish = item.reason
            prompt = (item.usage or {}).get("prompt_tokens")
            self.round_prompt_tokens = prompt if isinstance(prompt, int) and prompt > 0 else None
            for key, value in (item.usage or {}).items():
                self.usage[key] = self.usage.get(key, 0) + value
            return None
        assert_never(item)

    @property
    def wants_tools(self) -> bool:
        """True when the round ended asking for the tools it called."""
        return self.round_finish == "tool_calls" and bool(self.calls)

    def tool_request(self) -> Message:
        """The assistant message that carries this round's tool calls, for the next round."""
        return {
            "role": "assistant",
            "content": "".join(self.parts) or None,
            "tool_calls": [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": to_json(call.arguments)},
                }
                for call in self.calls
            ],
        }

    def tool_result(self, call: ToolCallRequest, result: Any) -> tuple[ToolResult, Message]:
        """The frame and the model message for one tool's result."""
        self.tool_calls += 1
        frame = ToolResult(
            message_id=self.message_id, call_id=call.call_id, name=call.name, result=result
        )
        return frame, {"role": "tool", "tool_call_id": call.call_id, "content": to_json(result)}

    @property
    def content(self) -> str:
        """The answer's text so far."""
        return "".join(self.parts)

    def done(self, reason: FinishReason | None = None) -> AssistantDone:
        """The final frame: the whole text, and why it ended (the model's reason unless given)."""
        return AssistantDone(
            message_id=self.message_id,
            content=self.content,
            finish_reason=reason or _ANSWER_REASONS.get(self.round_finish, "stop"),
            usage=self.usage or None,
        )

    def timings(self) -> dict[str, Any]:
        """Stored with the answer: time to first token, whole time, tool calls."""
        now = self._clock()
        first = self._first_token
        return {
            "ttft_ms": None if first is None else round((first - self._started) * 1000, 2),
            "total_ms": round((now - self._started) * 1000, 2),
            "tool_calls": self.tool_calls,
        }
