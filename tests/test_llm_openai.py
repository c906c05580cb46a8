"""The OpenAI-compatible provider: the real `openai` SDK against the SSE stand-in server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from app.llm import build_provider
from app.llm.base import Finish, LLMError, Message, StreamItem, TextDelta, ToolCallRequest, ToolSpec
from app.llm.openai_compat import OpenAICompatProvider
from tests.conftest import make_settings
from tests.servers.openai_sse import USAGE, OpenAIStandIn, chunk

SECRET = "sk-test-secret-0123456789"
HELLO: list[Message] = [{"role": "user", "content": "Hello?"}]
TOOL: ToolSpec = {
    "type": "function",
    "function": {
        "name": "check_inventory",
        "description": "Check the stock of an item.",
        "parameters": {"type": "object", "properties": {"item": {"type": "string"}}},
    },
}


@pytest.fixture
async def provider(openai_server: OpenAIStandIn) -> AsyncIterator[OpenAICompatProvider]:
    """A provider on the stand-in that fails fast (no retries)."""
    llm = OpenAICompatProvider(
        model="test-model",
        api_key=SECRET,
        base_url=openai_server.base_url,
        timeout=10,
        max_retries=0,
    )
    yield llm
    await llm.close()


async def collect(
    provider: OpenAICompatProvider,
    messages: list[Message] = HELLO,
    tools: tuple[ToolSpec, ...] = (),
) -> list[StreamItem]:
    return [item async for item in provider.stream(messages, list(tools))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_text_streams_as_deltas_in_order_then_one_finish(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_text("Hel", "lo, ", "world", "!")
    items = await collect(provider)
    assert items == [
        TextDelta("Hel"),
        TextDelta("lo, "),
        TextDelta("world"),
        TextDelta("!"),
        Finish("stop", usage=USAGE),
    ]


async def test_the_request_names_the_model_and_messages_and_asks_for_usage(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_text("ok")
    await collect(provider)
    request = openai_server.requests[-1]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    body = request.body
    assert body["model"] == "test-model"
    assert body["messages"] == HELLO
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert "tools" not in body and "temperature" not in body


async def test_tools_are_sent_when_offered(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_text("ok")
    await collect(provider, tools=(TOOL,))
    assert openai_server.last_body["tools"] == [TOOL]


async def test_tool_call_deltas_are_assembled_across_chunks(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_tool_calls(
        ("call_a", "get_current_time", json.dumps({"timezone": "Europe/Paris"})),
        ("call_b", "check_inventory", json.dumps({"item": "mice"})),
        pieces=4,
    )
    items = await collect(provider, tools=(TOOL,))
    assert items == [
        ToolCallRequest("call_a", "get_current_time", {"timezone": "Europe/Paris"}),
        ToolCallRequest("call_b", "check_inventory", {"item": "mice"}),
        Finish("tool_calls", usage=USAGE),
    ]


async def test_tool_results_in_the_history_are_sent_to_the_server(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    call = {"id": "call_a", "type": "function",
            "function": {"name": "check_inventory", "arguments": '{"item": "mice"}'}}  # fmt: skip
    messages: list[Message] = [
        {"role": "user", "content": "Any mice?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},  # type: ignore[list-item]
        {"role": "tool", "tool_call_id": "call_a", "content": '{"quantity": 42}'},
    ]
    openai_server.answer_text("Yes, 42.")
    assert text_of(await collect(provider, messages, (TOOL,))) == "Yes, 42."
    assert openai_server.last_body["messages"] == messages


async def test_a_missing_usage_chunk_gives_a_finish_without_usage(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_text("ok", usage=None)
    assert (await collect(provider))[-1] == Finish("stop", usage=None)


async def test_a_length_cut_is_reported(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_text("and then", finish_reason="length")
    assert (await collect(provider))[-1] == Finish("length", usage=USAGE)


async def test_a_server_error_becomes_llm_error(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.fail(500, "The server had an error while processing your request.")
    with pytest.raises(LLMError, match="HTTP 500"):
        await collect(provider)


async def test_a_rejected_key_becomes_llm_error_without_the_key(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.fail(
        401,
        f"Incorrect API key provided: {SECRET}.",
        error_type="invalid_request_error",
        code="invalid_api_key",
    )
    with pytest.raises(LLMError, match="HTTP 401") as caught:
        await collect(provider)
    assert SECRET not in str(caught.value)


async def test_a_stream_that_breaks_off_becomes_llm_error(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.break_off("Once upon", " a time")
    received: list[StreamItem] = []
    with pytest.raises(LLMError, match="broke off"):
        async for item in provider.stream(HELLO, []):
            received.append(item)
    assert received == [TextDelta("Once upon"), TextDelta(" a time")]


async def test_a_malformed_chunk_becomes_llm_error(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.send_raw("{this is not json")
    with pytest.raises(LLMError, match="malformed"):
        await collect(provider)


async def test_a_chunk_with_other_than_text_as_content_becomes_llm_error(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.send_raw(json.dumps(chunk({"content": 42})), json.dumps(chunk({}, "stop")))
    with pytest.raises(LLMError, match="malformed"):
        await collect(provider)


async def test_a_tool_call_without_its_index_becomes_llm_error(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    call = {"id": "call_1", "function": {"name": "check_inventory", "arguments": "{}"}}
    openai_server.send_raw(json.dumps(chunk({"tool_calls": [call]}, "tool_calls")))
    with pytest.raises(LLMError, match="malformed"):
        await collect(provider, tools=(TOOL,))


async def test_an_error_sent_inside_the_stream_becomes_llm_error(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.send_raw(json.dumps({"error": {"message": "model overloaded"}}))
    with pytest.raises(LLMError, match="model overloaded"):
        await collect(provider)


async def test_a_stream_without_a_finish_reason_becomes_llm_error(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.send_raw(json.dumps(chunk({"content": "half"})))
    with pytest.raises(LLMError, match="ended before"):
        await collect(provider)


async def test_an_unreachable_server_becomes_llm_error() -> None:
    llm = OpenAICompatProvider(
        model="m", api_key=SECRET, base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=0
    )
    try:
        with pytest.raises(LLMError, match="cannot reach"):
            await collect(llm)
    finally:
        await llm.close()


async def test_a_server_that_does_not_answer_in_time_becomes_llm_error(
    openai_server: OpenAIStandIn,
) -> None:
    openai_server.hang()
    llm = OpenAICompatProvider(
        model="m", base_url=openai_server.base_url, timeout=0.3, max_retries=0
    )
    try:
        with pytest.raises(LLMError, match="did not answer within 0.3 s"):
            await collect(llm)
    finally:
        await llm.close()


async def test_server_errors_are_retried_as_configured(openai_server: OpenAIStandIn) -> None:
    openai_server.fail(503, "busy", retry_after_ms=1)
    openai_server.answer_text("second time lucky")
    llm = OpenAICompatProvider(model="m", base_url=openai_server.base_url, max_retries=1)
    try:
        assert text_of(await collect(llm)) == "second time lucky"
    finally:
        await llm.close()
    assert len(openai_server.requests) == 2


async def test_closing_the_consumer_closes_the_server_stream(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_slowly()
    stream = provider.stream(HELLO, [])
    assert await anext(stream) == TextDelta("tick ")
    await stream.aclose()
    # aiohttp closes the socket on the loop's next turn, so the wait must not block the loop.
    assert await asyncio.to_thread(openai_server.wait_for_disconnect)


async def test_cancelling_the_consumer_task_closes_the_server_stream(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_slowly()
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in provider.stream(HELLO, []):
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert openai_server.wait_for_disconnect()


async def test_complete_returns_the_whole_answer_without_streaming(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_text("A short ", "summary.")
    assert await provider.complete(HELLO) == "A short summary."
    assert not openai_server.last_body.get("stream")
    assert "tools" not in openai_server.last_body


async def test_complete_turns_failures_into_llm_error(
    provider: OpenAICompatProvider, openai_server: OpenAIStandIn
) -> None:
    openai_server.fail(500, "nope")
    with pytest.raises(LLMError, match="HTTP 500"):
        await provider.complete(HELLO)


async def test_the_settings_choose_endpoint_key_model_and_temperature(
    openai_server: OpenAIStandIn,
) -> None:
    settings = make_settings(
        llm_provider=None,
        openai_api_key=SecretStr("sk-from-settings"),
        openai_base_url=openai_server.base_url,
        llm_model="my-model",
        llm_temperature=0.3,
        llm_max_retries=0,
    )
    llm = build_provider(settings)
    try:
        assert (llm.name, llm.model, llm.writes_summaries) == ("openai", "my-model", True)
        openai_server.answer_text("ok")
        assert text_of([item async for item in llm.stream(HELLO, [])]) == "ok"
    finally:
        await llm.close()
    request = openai_server.requests[-1]
    assert request.headers["authorization"] == "Bearer sk-from-settings"
    assert (request.body["model"], request.body["temperature"]) == ("my-model", 0.3)


async def test_a_server_that_needs_no_key_works_without_one(openai_server: OpenAIStandIn) -> None:
    openai_server.answer_text("ok")
    llm = OpenAICompatProvider(model="llama3", base_url=openai_server.base_url)
    try:
        assert text_of(await collect(llm)) == "ok"
    finally:
        await llm.close()


def text_of(items: list[StreamItem]) -> str:
    return "".join(item.text for item in items if isinstance(item, TextDelta))
