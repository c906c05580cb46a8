"""The offline provider: tool calls for time and stock questions and for any tool named in the
message (arguments from its schema), sensible streamed answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field

from app.chat.demo_tools import default_registry
from app.chat.tools import ToolRegistry
from app.llm import build_provider
from app.llm.base import Finish, Message, StreamItem, TextDelta, ToolCallRequest, ToolSpec
from app.llm.local import LocalProvider
from tests.conftest import make_settings

TOOLS = default_registry().specs()


async def collect(
    messages: list[Message], tools: list[ToolSpec] = TOOLS, provider: LocalProvider | None = None
) -> list[StreamItem]:
    items = []
    async for item in (provider or LocalProvider()).stream(messages, tools):
        items.append(item)
    return items


def user(text: str) -> Message:
    return {"role": "user", "content": text}


def text_of(items: list[StreamItem]) -> str:
    return "".join(item.text for item in items if isinstance(item, TextDelta))


def after_tool(question: str, name: str, result: Any) -> list[Message]:
    """A conversation where the model called `name` and got `result`."""
    call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": "{}"}}
    return [
        user(question),
        {"role": "assistant", "content": None, "tool_calls": [call]},  # type: ignore[list-item]
        {"role": "tool", "tool_call_id": "call_1", "content": json.dumps(result)},
    ]


@pytest.mark.parametrize(
    "question",
    ["What time is it?", "what's the date today", "Can you tell me the time?", "time now?"],
)
async def test_local_provider_calls_the_time_tool_for_a_time_question(question: str) -> None:
    items = await collect([user(question)])
    assert [type(item) for item in items] == [ToolCallRequest, Finish]
    call, finish = items
    assert isinstance(call, ToolCallRequest) and isinstance(finish, Finish)
    assert call.name == "get_current_time"
    assert call.call_id.startswith("call_")
    assert finish.reason == "tool_calls"


@pytest.mark.parametrize(
    ("question", "timezone"),
    [
        ("time in Tokyo?", "Asia/Tokyo"),
        ("What time is it in New York?", "America/New_York"),
        ("what is the current time in Europe/Lisbon", "Europe/Lisbon"),
    ],
)
async def test_local_provider_passes_a_named_city_as_timezone(question: str, timezone: str) -> None:
    call = (await collect([user(question)]))[0]
    assert isinstance(call, ToolCallRequest)
    assert (call.name, call.arguments) == ("get_current_time", {"timezone": timezone})


@pytest.mark.parametrize(
    ("question", "item"),
    [
        ("Do we have any mice in stock?", "mice"),
        ("is the webcam available?", "webcam"),
        ("check inventory for keyboards", "keyboards"),
        ("How many monitors are in stock?", "monitors"),
        ("usb-c cables in stock?", "usb-c cables"),
    ],
)
async def test_local_provider_calls_the_inventory_tool_with_the_item_as_said(
    question: str, item: str
) -> None:
    items = await collect([user(question)])
    assert isinstance(items[0], ToolCallRequest)
    assert (items[0].name, items[0].arguments) == ("check_inventory", {"item": item})
    assert items[-1] == Finish("tool_calls", usage=items[-1].usage)  # type: ignore[union-attr]


async def test_local_provider_can_call_both_tools_for_one_message() -> None:
    items = await collect([user("What time is it in Paris, and do we have any headsets in stock?")])
    calls = [item for item in items if isinstance(item, ToolCallRequest)]
    assert [c.name for c in calls] == ["get_current_time", "check_inventory"]
    assert len({c.call_id for c in calls}) == 2


async def test_local_provider_does_not_call_tools_that_are_not_offered() -> None:
    items = await collect([user("What time is it?")], tools=[])
    assert not any(isinstance(item, ToolCallRequest) for item in items)
    assert "get_current_time" in text_of(items)
    assert items[-1] == Finish("stop", usage=items[-1].usage)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "message", ["I had a good time in Tokyo", "what is the time complexity of quicksort?"]
)
async def test_local_provider_does_not_mistake_other_messages_for_tool_requests(
    message: str,
) -> None:
    items = await collect([user(message)])
    assert not any(isinstance(item, ToolCallRequest) for item in items)


async def test_local_provider_answers_from_the_time_tool_result() -> None:
    result = {"timezone": "UTC", "time": "14:03", "date": "2026-11-22", "weekday": "Sunday"}
    items = await collect(after_tool("What time is it?", "get_current_time", result))
    assert text_of(items) == "It is 14:03 UTC on Sunday, 22 November 2026."
    assert isinstance(items[-1], Finish) and items[-1].reason == "stop"


async def test_local_provider_answers_a_date_question_with_the_date_first() -> None:
    result = {
        "timezone": "Europe/Paris",
        "time": "15:03",
        "date": "2026-11-22",
        "weekday": "Sunday",
    }
    items = await collect(after_tool("what's the date today?", "get_current_time", result))
    assert text_of(items) == "Today is Sunday, 22 November 2026; it is 15:03 in Europe/Paris."


async def test_local_provider_answers_from_the_inventory_tool_result() -> None:
    result = {"item": "mice", "found": True, "sku": "MS-100", "name": "wireless mouse",
              "in_stock": True, "quantity": 42, "price": 19.99, "currency": "USD"}  # fmt: skip
    text = text_of(await collect(after_tool("Any mice in stock?", "check_inventory", result)))
    assert text.startswith("Yes,")
    assert "42" in text and "$19.99" in text and "wireless mouse" in text


async def test_local_provider_says_when_an_item_is_out_of_stock_or_unknown() -> None:
    registry = default_registry()
    webcam = await registry.run("check_inventory", {"item": "webcam"})
    text = text_of(await collect(after_tool("webcam in stock?", "check_inventory", webcam)))
    assert "out of stock" in text
    unknown = await registry.run("check_inventory", {"item": "unicorns"})
    text = text_of(await collect(after_tool("unicorns in stock?", "check_inventory", unknown)))
    assert "unicorns" in text and "wireless mouse" in text


async def test_local_provider_explains_a_tool_error() -> None:
    result = {"error": "unknown timezone 'Mars/Base'"}
    text = text_of(await collect(after_tool("time in Mars/Base?", "get_current_time", result)))
    assert "Mars/Base" in text


async def test_local_provider_streams_ordinary_answers_word_by_word() -> None:
    messages = [user("How do I learn Python decorators quickly?")]
    items = await collect(messages)
    deltas = [item.text for item in items if isinstance(item, TextDelta)]
    assert 40 <= len(deltas) <= 70
    assert all(len(delta.split()) == 1 for delta in deltas)
    assert "".join(deltas) == await LocalProvider().complete(messages)


async def test_local_provider_is_deterministic() -> None:
    messages: list[Message] = [
        user("hello"),
        {"role": "assistant", "content": "Hi!"},
        user("Why is the sky blue?"),
    ]
    assert await collect(messages) == await collect(messages)
    assert (await collect([user("What time is it?")])) == (
        await collect([user("What time is it?")])
    )


async def test_local_provider_answers_rather_than_echoes() -> None:
    answers = {
        message: text_of(await collect([user(message)]))
        for message in ["hello", "thanks!", "what can you do?", "Why is the sky blue?", "bye"]
    }
    assert len(set(answers.values())) == len(answers)
    for message, answer in answers.items():
        assert answer != message and len(answer.split()) >= 30
    assert "sky blue" in answers["Why is the sky blue?"]


async def test_local_provider_mentions_the_earlier_turns_it_remembers() -> None:
    history: list[Message] = [user("hello"), {"role": "assistant", "content": "Hi!"}]
    history += [user("I like turtles."), {"role": "assistant", "content": "Noted."}]
    text = text_of(await collect([*history, user("Why is the sky blue?")]))
    assert "2 earlier turns" in text


async def test_local_provider_recalls_earlier_messages_when_asked() -> None:
    history: list[Message] = [user("Why is the sky blue?"), {"role": "assistant", "content": "..."}]
    text = text_of(await collect([*history, user("What did I ask earlier?")]))
    assert "Why is the sky blue?" in text


async def test_local_provider_summarises_a_long_message_instead_of_repeating_it() -> None:
    long_message = " ".join(["The database migration needs careful planning."] * 30)
    text = text_of(await collect([user(long_message)]))
    assert "180 words" in text and "migration" in text
    assert len(text) < len(long_message)


async def test_local_provider_reports_usage_estimates() -> None:
    items = await collect([user("Tell me something about Rust ownership, please.")])
    finish = items[-1]
    assert isinstance(finish, Finish) and finish.usage is not None
    assert finish.usage["prompt_tokens"] > 0 and finish.usage["completion_tokens"] > 0
    assert finish.usage["total_tokens"] == (
        finish.usage["prompt_tokens"] + finish.usage["completion_tokens"]
    )
    assert sum(isinstance(item, Finish) for item in items) == 1


async def _other_task_turns(work: Awaitable[list[StreamItem]]) -> tuple[list[StreamItem], int]:
    """What `work` returned, and how many times another task ran while it was awaited."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    items = await work
    task.cancel()
    return items, ticks - before


async def test_local_provider_lets_other_tasks_run_during_a_long_answer() -> None:
    clock = [0.0]

    def slow_clock() -> float:
        clock[0] += 0.001  # every look at the clock finds a millisecond gone
        return clock[0]

    provider = LocalProvider(clock=slow_clock)
    _, turns = await _other_task_turns(collect([user("Why is the sky blue?")], provider=provider))
    assert turns > 1


async def test_at_full_speed_a_short_answer_streams_in_one_loop_turn() -> None:
    provider = LocalProvider(clock=lambda: 0.0)
    items, turns = await _other_task_turns(
        collect([user("Why is the sky blue?")], provider=provider)
    )
    assert sum(isinstance(item, TextDelta) for item in items) > 16
    assert turns == 0


async def test_local_provider_paces_by_an_absolute_schedule_so_lateness_never_adds_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    waits: list[float] = []

    async def late_sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds + 0.002  # every wake-up comes 2 ms late

    monkeypatch.setattr("app.llm.local.asyncio.sleep", late_sleep)
    provider = LocalProvider(delay_ms=5, clock=lambda: now[0])
    items = await collect([user("hello")], provider=provider)
    deltas = sum(isinstance(item, TextDelta) for item in items)
    assert waits == pytest.approx([0.005] + [0.003] * (deltas - 2))
    assert now[0] - 100.0 == pytest.approx(0.005 * (deltas - 1) + 0.002)


def test_the_local_provider_is_built_when_no_key_is_set() -> None:
    provider = build_provider(make_settings(llm_provider=None))
    assert provider.name == "local"
    assert provider.writes_summaries is False


def forecast(
    city: str,
    days: Annotated[int, Field(ge=1, le=7)],
    unit: Literal["celsius", "fahrenheit"],
    hourly: bool = False,
) -> dict[str, Any]:
    """Forecast the weather of a city."""
    return {"city": city, "days": days, "unit": unit, "hourly": hourly}


def custom_registry() -> ToolRegistry:
    """The demo tools plus a tool the local provider has no rule for."""
    registry = default_registry()
    registry.register(forecast)
    return registry


@pytest.mark.parametrize(
    "message",
    [
        "call forecast",
        "Please use the forecast tool.",
        "run the tool `forecast` now",
        "invoke FORECAST",
    ],
)
async def test_local_provider_calls_any_offered_tool_named_in_the_message(message: str) -> None:
    registry = custom_registry()
    items = await collect([user(message)], tools=registry.specs())
    [call] = [item for item in items if isinstance(item, ToolCallRequest)]
    # The required arguments, built from the schema: they pass the tool's own validation.
    assert (call.name, call.arguments) == (
        "forecast",
        {"city": "example", "days": 1, "unit": "celsius"},
    )
    assert await registry.run(call.name, call.arguments) == {**call.arguments, "hourly": False}
    assert items[-1] == Finish("tool_calls", usage=items[-1].usage)  # type: ignore[union-attr]


async def test_local_provider_takes_json_arguments_written_after_the_name() -> None:
    message = 'call forecast with {"city": "Oslo", "hourly": true} please'
    [call, _] = await collect([user(message)], tools=custom_registry().specs())
    assert isinstance(call, ToolCallRequest)
    assert call.arguments == {"city": "Oslo", "days": 1, "unit": "celsius", "hourly": True}
    # Deterministic: the same message and tools give the same calls, ids included.
    assert await collect([user(message)], tools=custom_registry().specs()) == await collect(
        [user(message)], tools=custom_registry().specs()
    )


async def test_local_provider_calls_every_offered_tool_when_asked_to() -> None:
    items = await collect([user("Call all tools.")], tools=custom_registry().specs())
    calls = [item for item in items if isinstance(item, ToolCallRequest)]
    assert [c.name for c in calls] == ["get_current_time", "check_inventory", "forecast"]
    assert [c.arguments for c in calls][:2] == [{}, {"item": "example"}]


@pytest.mark.parametrize(
    "message", ["What is the forecast for Oslo?", "call forecasting", "call get_weather"]
)
async def test_local_provider_does_not_call_a_tool_the_message_does_not_name(message: str) -> None:
    items = await collect([user(message)], tools=custom_registry().specs())
    assert not any(isinstance(item, ToolCallRequest) for item in items)


async def test_local_provider_keeps_its_demo_rules_beside_named_tools() -> None:
    message = "What time is it in Tokyo? Also call forecast."
    items = await collect([user(message)], tools=custom_registry().specs())
    calls = [(c.name, c.arguments) for c in items if isinstance(c, ToolCallRequest)]
    assert calls == [
        ("get_current_time", {"timezone": "Asia/Tokyo"}),
        ("forecast", {"city": "example", "days": 1, "unit": "celsius"}),
    ]


async def test_a_demo_rule_fits_its_arguments_to_the_offered_schema() -> None:
    def get_current_time(zone: str) -> str:
        """Another clock, with a required argument of another name."""
        return zone

    registry = ToolRegistry()
    registry.register(get_current_time)
    [call, _] = await collect([user("What time is it in Paris?")], tools=registry.specs())
    assert isinstance(call, ToolCallRequest)
    assert call.arguments == {"zone": "example"}


async def test_local_provider_tells_any_tool_result_and_error() -> None:
    result = {"city": "Oslo", "temperature": -3}
    text = text_of(await collect(after_tool("call forecast", "forecast", result)))
    assert text == 'The forecast tool returned: {"city": "Oslo", "temperature": -3}.'
    failed = {"error": "invalid arguments for 'forecast': days: too many"}
    text = text_of(await collect(after_tool("call forecast", "forecast", failed)))
    assert text == f"The forecast tool failed: {failed['error']}."
    # A tool that shares a demo tool's name but not its result shape is told the same way.
    for shape, told in (([1, 2], "[1, 2]"), ({"hour": 3}, '{"hour": 3}')):
        text = text_of(await collect(after_tool("What time is it?", "get_current_time", shape)))
        assert text == f"The get_current_time tool returned: {told}."
