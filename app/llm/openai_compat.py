"""Any OpenAI-compatible chat endpoint, through the official SDK, behind the provider interface."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator
from typing import Any, cast

import httpx
import openai
from openai import AsyncOpenAI, AsyncStream, Omit, omit
from openai.types.chat import ChatCompletionMessageParam

from app.config import Settings
from app.llm.base import (
    Finish,
    LLMError,
    Message,
    StreamItem,
    TextDelta,
    ToolSpec,
)
from app.llm.tool_calls import ToolCallAssembler
from app.vocabulary import ModelFinishReason

logger = logging.getLogger(__name__)

# Local servers (Ollama, vLLM, llama.cpp) need no key, but the SDK insists on one.
_NO_KEY = "not-needed"
_FINISH_REASONS: dict[str, ModelFinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}
# Chunks are read as JSON without a schema, so a malformed one surfaces as one of these.
_MALFORMED = (ValueError, TypeError, AttributeError, KeyError)
_SECRET_LIKE = re.compile(r"\b(?:sk|gsk)-[A-Za-z0-9_*.\-]{6,}")
# The stream goes through the SDK's aiohttp transport: with httpx/httpcore/anyio each chunk
# cost several layers of Python, and the pool checked every one of its connections whenever
# a request started or a response ended (200 streams in one pool: 40,000 checks a round);
# aiohttp's reader is C and its pool a queue per host (docs/performance.md, openai). Every
# connection is kept between requests (the SDK's default keeps 100 of 1,000, so past 100
# answers at once each would open one, TLS included).
_LIMITS = type(openai.DEFAULT_CONNECTION_LIMITS)(
    max_connections=1000, max_keepalive_connections=1000
)


class OpenAICompatProvider:
    """Streams chat completions from OpenAI, Groq, Gemini, Ollama, vLLM and the like."""

    name = "openai"
    writes_summaries = True

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        temperature: float | None = None,
    ) -> None:
        self.model = model
        self._api_key = api_key or _NO_KEY
        self._temperature = temperature
        self._timeout = timeout
        self._client = AsyncOpenAI(
            api_key=self._api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=openai.DefaultAioHttpClient(limits=_LIMITS),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatProvider:
        """Build the provider from the OPENAI_* and LLM_* settings."""
        key = settings.openai_api_key
        return cls(
            model=settings.llm_model,
            api_key=key.get_secret_value() if key else None,
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
            temperature=settings.llm_temperature,
        )

    async def stream(
        self, messages: list[Message], tools: list[ToolSpec]
    ) -> AsyncGenerator[StreamItem, None]:
        """Stream one round; the HTTP stream is closed as soon as the consumer stops."""
        stream = await self._open(messages, tools)
        state = _RoundState()
        try:
            async for chunk in stream:
                for text in state.add(chunk):
                    yield TextDelta(text)
        except (openai.OpenAIError, httpx.HTTPError, *_MALFORMED) as exc:
            raise self._error(exc, mid_stream=True) from exc
        finally:
            await stream.close()
        for item in state.end(self.model):
            yield item

    async def complete(self, messages: list[Message]) -> str:
        """One whole answer without tools or streaming."""
        try:
            response = await self._client.chat.completions.create(
                model=self.model, messages=_wire(messages), temperature=_given(self._temperature)
            )
            content = response.choices[0].message.content if response.choices else None
        except (openai.OpenAIError, *_MALFORMED) as exc:
            raise self._error(exc) from exc
        if not content:
            raise LLMError("the model returned an empty answer")
        return content

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.close()

    async def _open(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncStream[object]:
        # The SDK's own `create` builds a typed model of every chunk (most of its cost per
        # token, about a millisecond here) and walks the request through its type hints;
        # the same POST with `cast_to=object` keeps its retries, errors and SSE decoding and
        # hands over each chunk as the parsed JSON, read by `_RoundState`.
        body: dict[str, object] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = tools
        if self._temperature is not None:
            body["temperature"] = self._temperature
        try:
            return await self._client.post(
                "/chat/completions",
                body=body,
                cast_to=object,
                stream=True,
                stream_cls=AsyncStream[object],
            )
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc

    def _error(self, exc: Exception, *, mid_stream: bool = False) -> LLMError:
        """A short, readable LLMError for any SDK or transport failure, with no secret in it."""
        # openai 3 wraps a transport error met while reading the stream in APIConnectionError;
        # openai 2 lets httpx's own error through.
        broke_off = mid_stream and isinstance(exc, openai.APIConnectionError)
        if isinstance(exc, openai.APITimeoutError) and not _refused(exc):
            message = f"the model server did not answer within {self._timeout:g} s"
        elif broke_off or isinstance(exc, httpx.HTTPError):
            message = f"the model's stream broke off ({type(exc.__cause__ or exc).__name__})"
        elif isinstance(exc, openai.APIConnectionError):
            message = f"cannot reach the model server at {self._client.base_url}"
        elif isinstance(exc, openai.APIStatusError):
            message = f"the model server answered HTTP {exc.status_code}: {_server_message(exc)}"
        elif isinstance(exc, openai.APIError):
            message = f"the model server reported an error: {_server_message(exc)}"
        elif isinstance(exc, openai.OpenAIError):
            message = f"the model request failed ({type(exc).__name__})"
        else:
            message = f"the model server sent a malformed answer ({type(exc).__name__})"
        return LLMError(self._redact(message))

    def _redact(self, text: str) -> str:
        if self._api_key != _NO_KEY:
            text = text.replace(self._api_key, "***")
        return _SECRET_LIKE.sub("***", text)


class _RoundState:
    """What a streamed round has said so far besides text: tool calls, finish reason, usage."""

    def __init__(self) -> None:
        self.calls = ToolCallAssembler()
        self.finish_reason: str | None = None
        self.usage: dict[str, int] | None = None

    def add(self, chunk: object) -> list[str]:
        """Fold one chunk (the parsed JSON) in and return its text pieces."""
        body = cast("dict[str, Any]", chunk)
        self.usage = _usage(body.get("usage")) or self.usage
        texts = []
        for choice in body.get("choices") or ():
            delta = choice.get("delta") or {}
            for call in delta.get("tool_calls") or ():
                function = call.get("function") or {}
                self.calls.add(
                    call["index"],
                    call_id=call.get("id"),
                    name=function.get("name"),
                    arguments=function.get("arguments"),
                )
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
            content = delta.get("content")
            if content:
                if not isinstance(content, str):
                    raise TypeError("a chunk's content is not text")
                texts.append(content)
        return texts

    def end(self, model: str) -> list[StreamItem]:
        """The assembled tool calls and the one Finish; LLMError if the round never finished."""
        if self.finish_reason is None:
            raise LLMError("the model's stream ended before the answer was finished")
        requests = self.calls.finish()
        for problem in self.calls.errors:
            logger.warning("model %s: %s", model, problem)
        # Some servers report "stop" although the round asked for tools.
        reason = "tool_calls" if requests else _FINISH_REASONS.get(self.finish_reason, "stop")
        return [*requests, Finish(reason, usage=self.usage)]


def _wire(messages: list[Message]) -> list[ChatCompletionMessageParam]:
    # Message is the same OpenAI wire shape, typed more loosely than the SDK's union.
    return cast("list[ChatCompletionMessageParam]", messages)


def _given(value: float | None) -> float | Omit:
    return omit if value is None else value


def _refused(exc: BaseException) -> bool:
    """Whether the connection itself failed (refused, reset, no such host), not timed out."""
    # The SDK's aiohttp transport maps every connect failure to httpx's ConnectTimeout, so a
    # refused connection arrives as APITimeoutError: the OSError at the root tells them apart.
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, OSError) and not isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__
    return False


def _server_message(exc: openai.APIError) -> str:
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else None
    text = message if isinstance(message, str) and message else exc.message
    return " ".join(text.split())[:300]


def _usage(usage: dict[str, Any] | None) -> dict[str, int] | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["total_tokens"],
    }
