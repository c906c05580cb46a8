"""Session summaries: extractive lines, the bounded model prompt, model or fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.chat.summary import build_summary, extractive_summary, format_duration, summary_prompt
from app.llm.base import LLMError, Message
from app.llm.local import LocalProvider
from app.llm.openai_compat import OpenAICompatProvider
from app.store.base import EventRecord, SessionRecord
from tests.servers.openai_sse import OpenAIStandIn

START = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


def make_session(**overrides: Any) -> SessionRecord:
    values: dict[str, Any] = {
        "session_id": "s-1",
        "user_id": "alice",
        "start_time": START,
        "end_time": START + timedelta(seconds=125),
        "duration_seconds": 125.0,
        "status": "ended",
    }
    return SessionRecord(**(values | overrides))


class EventLog:
    """Builds a session's events in order, as the conversation stores them."""

    def __init__(self) -> None:
        self.events: list[EventRecord] = []

    def add(self, event_type: str, content: str = "", **metadata: Any) -> EventLog:
        role = {"user_message": "user", "tool_result": "tool", "error": "system"}.get(
            event_type, "assistant"
        )
        self.events.append(
            EventRecord(
                id=len(self.events) + 1,
                session_id="s-1",
                event_type=event_type,  # type: ignore[arg-type]
                role=role,  # type: ignore[arg-type]
                content=content,
                metadata=metadata,
                created_at=START + timedelta(seconds=len(self.events)),
            )
        )
        return self

    def turn(self, question: str, answer: str, finish_reason: str = "stop") -> EventLog:
        self.add("user_message", question)
        return self.add("assistant_message", answer, finish_reason=finish_reason)

    def tool(self, name: str, arguments: dict[str, Any], result: str) -> EventLog:
        self.add("tool_call", "{}", name=name, call_id=f"call_{name}", arguments=arguments)
        return self.add("tool_result", result, name=name, call_id=f"call_{name}")


def conversation() -> list[EventRecord]:
    log = EventLog().add("session_start")
    log.add("user_message", "What time is it in Tokyo?")
    log.tool("get_current_time", {"timezone": "Asia/Tokyo"}, '{"time": "23:00"}')
    log.add("assistant_message", "It is 23:00 in Asia/Tokyo.", finish_reason="stop")
    log.add("user_message", "Do we have any mice in stock?")
    log.tool("check_inventory", {"item": "mice"}, '{"quantity": 42}')
    log.add("assistant_message", "Yes, 42.", finish_reason="stop")
    log.add("user_message", "And keyboards?")
    log.tool("check_inventory", {"item": "keyboards"}, '{"quantity": 17}')
    log.add("assistant_message", "Yes, 17.", finish_reason="stop")
    return log.add("session_end").events


class WritingProvider(LocalProvider):
    """A provider that writes summaries: returns `answer`, or raises LLMError when it is None."""

    writes_summaries = True

    def __init__(self, answer: str | None) -> None:
        super().__init__()
        self.answer = answer
        self.prompts: list[list[Message]] = []

    async def complete(self, messages: list[Message]) -> str:
        self.prompts.append(messages)
        if self.answer is None:
            raise LLMError("the model server answered HTTP 500")
        return self.answer


def test_extractive_summary_says_who_asked_what() -> None:
    summary = extractive_summary(make_session(), conversation())
    assert "alice" in summary
    assert "3 messages" in summary
    assert '"What time is it in Tokyo?"' in summary
    assert '"Do we have any mice in stock?"' in summary


def test_extractive_summary_shortens_long_questions_and_lists_only_the_first_few() -> None:
    log = EventLog()
    for number in range(5):
        log.turn(f"Question {number}: " + "very long words " * 20, "ok")
    summary = extractive_summary(make_session(), log.events)
    assert "Question 0" in summary and "Question 2" in summary
    assert "Question 3" not in summary and "2 more" in summary
    assert "very long words " * 20 not in summary


def test_extractive_summary_counts_the_tools_used() -> None:
    summary = extractive_summary(make_session(), conversation())
    assert "check_inventory (2×)" in summary
    assert "get_current_time (1×)" in summary


def test_extractive_summary_says_when_no_tools_were_used() -> None:
    summary = extractive_summary(make_session(), EventLog().turn("hello", "Hi!").events)
    assert "No tools were used." in summary


def test_extractive_summary_gives_the_duration() -> None:
    assert "2 min 5 s" in extractive_summary(make_session(), conversation())


def test_a_session_still_open_is_timed_up_to_its_last_event() -> None:
    session = make_session(end_time=None, duration_seconds=None, status="active")
    events = EventLog().turn("a", "b").turn("c", "d").events
    assert "over 3 s" in extractive_summary(session, events)


@pytest.mark.parametrize(
    ("finish_reason", "wording"),
    [
        ("stop", "completed"),
        ("cancelled", "cancelled"),
        ("error", "error"),
        ("length", "length limit"),
    ],
)
def test_extractive_summary_says_how_the_session_ended(finish_reason: str, wording: str) -> None:
    events = EventLog().turn("first", "ok").turn("second", "partial", finish_reason).events
    assert wording in extractive_summary(make_session(), events).splitlines()[-1]


def test_extractive_summary_counts_errors() -> None:
    events = EventLog().turn("a", "", "error").add("error", "busy").turn("b", "fine").events
    summary = extractive_summary(make_session(), events)
    assert "2 errors" in summary
    assert "completed" in summary


def test_a_failed_answer_with_its_stored_error_frame_counts_once() -> None:
    events = (
        EventLog()
        .add("user_message", "a", message_id="m1")
        .add("error", "model down", code="llm_error", message_id="m1")
        .add("assistant_message", "", finish_reason="error", message_id="m1")
        .events
    )
    assert "1 error." in extractive_summary(make_session(), events)


def test_an_answer_cut_off_by_a_dead_process_is_said_so() -> None:
    events = EventLog().turn("a", "half", "interrupted").events
    assert "cut off when the service stopped" in extractive_summary(make_session(), events)


def test_extractive_summary_of_an_empty_session_is_still_readable() -> None:
    summary = extractive_summary(make_session(duration_seconds=3.0), [])
    assert "0 messages" in summary and "3 s" in summary and "no answer" in summary


def test_durations_read_naturally() -> None:
    assert [format_duration(s) for s in (0, 45.4, 125, 3780)] == [
        "0 s", "45 s", "2 min 5 s", "1 h 3 min"
    ]  # fmt: skip


def test_summary_prompt_carries_the_transcript_and_the_tool_calls() -> None:
    messages = summary_prompt(make_session(), conversation())
    assert [m["role"] for m in messages] == ["system", "user"]
    content = messages[1]["content"] or ""
    assert "user: Do we have any mice in stock?" in content
    assert "assistant: Yes, 42." in content
    assert 'tool call check_inventory: {"item": "mice"}' in content


def test_summary_prompt_stays_bounded_for_a_long_session() -> None:
    log = EventLog()
    for number in range(500):
        log.turn(f"question {number} " + "x" * 500, f"answer {number} " + "y" * 500)
    content = summary_prompt(make_session(), log.events)[1]["content"] or ""
    assert len(content) < 8000
    assert "question 0 " in content and "answer 499 " in content
    assert "left out" in content


async def test_build_summary_uses_the_model_when_it_writes_summaries() -> None:
    provider = WritingProvider("Alice checked the time in Tokyo and the stock of mice.")
    summary = await build_summary(make_session(), conversation(), provider)
    assert summary == "Alice checked the time in Tokyo and the stock of mice."
    assert provider.prompts == [summary_prompt(make_session(), conversation())]


async def test_build_summary_falls_back_to_the_extractive_one_on_llm_error() -> None:
    summary = await build_summary(make_session(), conversation(), WritingProvider(None))
    assert summary == extractive_summary(make_session(), conversation())


async def test_build_summary_falls_back_when_the_model_says_nothing() -> None:
    summary = await build_summary(make_session(), conversation(), WritingProvider("  "))
    assert summary == extractive_summary(make_session(), conversation())


async def test_build_summary_is_extractive_for_the_local_provider() -> None:
    summary = await build_summary(make_session(), conversation(), LocalProvider())
    assert summary == extractive_summary(make_session(), conversation())


async def test_build_summary_asks_an_openai_compatible_model(openai_server: OpenAIStandIn) -> None:
    openai_server.answer_text("Alice asked about ", "Tokyo time and mice.")
    provider = OpenAICompatProvider(model="m", base_url=openai_server.base_url, max_retries=0)
    try:
        summary = await build_summary(make_session(), conversation(), provider)
    finally:
        await provider.close()
    assert summary == "Alice asked about Tokyo time and mice."
    sent = openai_server.last_body["messages"][1]["content"]
    assert "user: What time is it in Tokyo?" in sent
