"""The context budget's pure parts: estimate, projection, fold choice, history from events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.chat.budget import Budget, Counted, fold_count, project
from app.chat.context import ContextWindow, StoredContext, stored_ratio, window_from_events
from app.chat.folding import fold_prompt, local_fold
from app.chat.history import (
    ContextSummary,
    Turn,
    after_summary,
    pair_tool_calls,
    truncate_text,
    turns_from_events,
)
from app.llm.base import Message
from app.llm.tokens import estimate_message, estimate_messages, estimate_text
from app.store.base import EventRecord

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Log:
    """Stored events of one session, made turn by turn."""

    def __init__(self) -> None:
        self.events: list[EventRecord] = []

    def add(self, kind: str, content: str = "", **metadata: Any) -> EventRecord:
        role = {"user_message": "user", "tool_result": "tool"}.get(kind, "assistant")
        if kind == "context_summary":
            role = "system"
        event = EventRecord(
            id=len(self.events) + 1,
            session_id="s",
            event_type=kind,  # type: ignore[arg-type]
            role=role,  # type: ignore[arg-type]
            content=content,
            metadata=metadata,
            created_at=NOW,
        )
        self.events.append(event)
        return event

    def turn(self, question: str, answer: str, *, calls: int = 0, cut: bool = False) -> None:
        message_id = f"m{len(self.events)}"
        self.add("user_message", question, message_id=message_id)
        # As an answer stores them: a round's calls as they stream, then their results.
        ids = [f"c{len(self.events)}_{index}" for index in range(calls)]
        for index, call_id in enumerate(ids):
            self.add("tool_call", "{}", call_id=call_id, name="t", arguments={"n": index})
        for call_id in ids if not cut else []:
            self.add("tool_result", '{"ok":true}', call_id=call_id, name="t")
        self.add("assistant_message", answer, message_id=message_id)


def test_the_estimate_counts_bytes_and_tool_traffic_more_densely() -> None:
    assert estimate_text("") == 0 and estimate_text("abc") == 1 and estimate_text("abcd") == 2
    assert estimate_text("日本") == 2  # six bytes
    text: Message = {"role": "user", "content": "x" * 30}
    tool: Message = {"role": "tool", "tool_call_id": "c", "content": "x" * 30}
    assert estimate_message(tool) > estimate_message(text) == 4 + 10


def test_the_projection_adds_an_estimate_to_the_reported_count() -> None:
    messages: list[Message] = [{"role": "user", "content": "x" * 300}] * 3
    counted = Counted(prompt_tokens=500, estimated=250, messages=2, generation=0)
    added = estimate_messages(messages[2:])
    assert project(messages, tools_tokens=0, counted=counted, generation=0, ratio=1.0) == (
        500 + added
    )
    assert counted.ratio == 2.0
    # After the history changed (a fold), the old count no longer applies: estimate, scaled.
    assert project(messages, tools_tokens=10, counted=counted, generation=1, ratio=2.0) == 2 * (
        estimate_messages(messages) + 10
    )


def test_a_ratio_never_scales_the_estimate_down() -> None:
    assert Counted(prompt_tokens=10, estimated=100, messages=1, generation=0).ratio == 1.0


def test_folding_takes_whole_oldest_turns_and_never_the_last() -> None:
    assert fold_count([100, 100, 100, 100], fixed=50, target=260) == 2
    assert fold_count([100, 100, 100], fixed=0, target=1000) == 0
    assert fold_count([500, 500, 5000], fixed=0, target=10) == 2  # the current turn stays


def test_history_keeps_tool_calls_with_their_results_and_drops_cut_off_calls() -> None:
    log = Log()
    log.turn("q1", "a1", calls=2)
    log.turn("q2", "a2", calls=1, cut=True)
    [first, second] = turns_from_events(log.events, max_result_tokens=100)
    roles = [m["role"] for m in first.messages]
    assert roles == ["user", "assistant", "tool", "tool", "assistant"]
    calls = first.messages[1].get("tool_calls") or []
    assert [c["id"] for c in calls] == [m.get("tool_call_id") for m in first.messages[2:4]]
    assert calls[0]["function"] == {"name": "t", "arguments": '{"n":0}'}
    assert [m["role"] for m in second.messages] == ["user", "assistant"]
    assert first.first_event_id == 1


def test_an_oversize_tool_result_is_truncated_with_a_marker() -> None:
    log = Log()
    log.add("user_message", "q", message_id="m")
    log.add("tool_call", "{}", call_id="c", name="t", arguments={})
    log.add("tool_result", "y" * 10_000, call_id="c", name="t")
    [turn] = turns_from_events(log.events, max_result_tokens=100)
    content = str(turn.messages[2]["content"])
    assert content.startswith("yyy") and "[truncated:" in content and len(content) < 300
    assert truncate_text("short", 100) == "short"


def test_history_starts_after_the_latest_summary() -> None:
    log = Log()
    log.turn("old", "gone")
    covered = log.events[-1].id
    log.turn("kept", "here")
    log.add("context_summary", "first summary", covers_through_id=covered)
    log.turn("newer", "also")
    summary, rest = after_summary(log.events)
    assert summary == ContextSummary(text="first summary", covers_through_id=covered)
    assert [e.content for e in rest if e.event_type == "user_message"] == ["kept", "newer"]
    window = window_from_events(system_prompt="Be brief.", context_tokens=1000, events=log.events)
    messages = window.messages()
    assert messages[0]["content"] == "Be brief." and "first summary" in str(messages[1]["content"])
    assert [m["content"] for m in messages[2:]] == ["kept", "here", "newer", "also"]


def test_a_cut_off_answer_keeps_no_call_without_its_result() -> None:
    messages: list[Message] = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "t", "arguments": "{}"}},
                {"id": "b", "type": "function", "function": {"name": "t", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "a", "content": "{}"},
    ]
    kept = pair_tool_calls(messages)
    assert [c["id"] for c in kept[1].get("tool_calls") or []] == ["a"] and len(kept) == 3
    assert pair_tool_calls(messages[:2]) == messages[:1]


def test_the_window_folds_and_forgets_the_count_of_the_old_history() -> None:
    window = ContextWindow(system_prompt="S", budget=Budget(400))
    for number in range(8):
        turn = window.begin(f"m{number}", "x" * 150)
        turn.first_event_id = number * 2 + 1
        turn.messages.append({"role": "assistant", "content": "y" * 150})
    messages = window.messages()
    window.record(2000, messages=messages, tools_tokens=0)
    assert window.project(messages, tools_tokens=0) == 2000
    # The model counts 2.3 times the estimate: each turn weighs 250, so only the current one stays.
    count = window.fold_plan(tools_tokens=0)
    assert count == 7
    window.apply_fold(count, ContextSummary(text="sum", covers_through_id=count * 2))
    after = window.project(window.messages(), tools_tokens=0)
    assert after <= window.budget.limit and window.messages()[1]["role"] == "system"
    assert [m["content"] for m in window.messages()[2:]] == ["x" * 150, "y" * 150]


def test_the_ratio_the_last_answer_stored_carries_over_a_resume() -> None:
    log = Log()
    log.turn("q", "a")
    assert stored_ratio(log.events) == 1.0
    log.add("assistant_message", "b", context={"prompt_tokens": 300, "estimated": 200})
    assert stored_ratio(log.events) == 1.5


def test_the_fold_prompt_stays_within_its_budget_and_the_local_fold_is_deterministic() -> None:
    turns = [
        Turn(message_id=f"m{n}", messages=[{"role": "user", "content": f"Turn {n} " + "w " * 200}])
        for n in range(40)
    ]
    prompt = fold_prompt(ContextSummary("so far", 1), turns, max_tokens=500, summary_tokens=60)
    assert estimate_messages(prompt) <= 500 and "so far" in str(prompt[1]["content"])
    folded = local_fold(ContextSummary("an earlier line", 1), turns, max_tokens=60)
    assert folded == local_fold(ContextSummary("an earlier line", 1), turns, max_tokens=60)
    assert estimate_text(folded) <= 60 and "Turn 39" in folded


_TURNS = st.lists(
    st.tuples(
        st.sampled_from(["", "q"]), st.sampled_from(["", "a"]), st.integers(0, 2), st.booleans()
    ),
    max_size=12,
)


@given(_TURNS, _TURNS)
def test_a_reopened_session_counts_its_history_as_the_window_it_rebuilds_later(
    before: list[tuple[str, str, int, bool]], after: list[tuple[str, str, int, bool]]
) -> None:
    log = Log()
    for question, answer, calls, cut in before:
        log.turn(question, answer, calls=calls, cut=cut)
    if log.events:
        log.add("context_summary", "folded", covers_through_id=log.events[-1].id)
    for question, answer, calls, cut in after:
        log.turn(question, answer, calls=calls, cut=cut)
    context = StoredContext(system_prompt="Be brief.", context_tokens=1000, events=log.events)
    counted = context.message_count
    built = window_from_events(system_prompt="Be brief.", context_tokens=1000, events=log.events)
    assert counted == built.message_count == context.window.message_count
    assert context.message_count == counted
