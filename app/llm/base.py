"""The provider interface: one async generator streaming a small union of items."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, Protocol, TypedDict

from app.vocabulary import ModelFinishReason, Role


class ToolCallWire(TypedDict):
    """A tool call inside an assistant message, in OpenAI's chat wire format."""

    id: str
    type: Literal["function"]
    function: dict[str, str]


class Message(TypedDict):
    """One chat message in OpenAI's wire format (the lingua franca of providers)."""

    role: Role
    content: str | None
    tool_calls: NotRequired[list[ToolCallWire]]
    tool_call_id: NotRequired[str]
    name: NotRequired[str]


class ToolSpec(TypedDict):
    """A tool offered to the model: `{"type": "function", "function": {...}}`."""

    type: Literal["function"]
    function: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """The model asks for one tool call (arguments already parsed)."""

    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Finish:
    """The end of one model round; `tool_calls`: run the tools, then ask the model again."""

    reason: ModelFinishReason
    usage: dict[str, int] | None = field(default=None)


StreamItem = TextDelta | ToolCallRequest | Finish


class LLMError(Exception):
    """Any provider failure: connect, HTTP status, a broken stream, a bad answer."""


class Provider(Protocol):
    """A model provider."""

    name: str
    model: str
    # False when summaries are built extractively rather than written by the model.
    writes_summaries: bool

    def stream(
        self, messages: list[Message], tools: list[ToolSpec]
    ) -> AsyncGenerator[StreamItem, None]:
        """Stream one model round; ends with exactly one Finish. Raises LLMError."""
        ...

    async def complete(self, messages: list[Message]) -> str:
        """One whole answer without tools (used to write summaries). Raises LLMError."""
        ...

    async def close(self) -> None:
        """Release network clients."""
        ...
