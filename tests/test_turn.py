"""The turn accumulator without I/O: provider items in, frames and the answer out."""

from __future__ import annotations

from app.chat.events import AssistantDelta, ToolCall
from app.chat.turn import TurnState
from app.llm.base import Finish, TextDelta, ToolCallRequest


def _clock(times: list[float]) -> object:
    values = iter(times)
    return lambda: next(values)


def test_text_deltas_become_frames_and_the_done_carries_the_whole_text() -> None:
    state = TurnState("m1")
    frames = [state.handle(TextDelta(t)) for t in ("Hi", " there")]
    assert frames == [
        AssistantDelta(message_id="m1", delta="Hi"),
        AssistantDelta(message_id="m1", delta=" there"),
    ]
    assert state.handle(Finish("stop", usage={"total_tokens": 3})) is None
    done = state.done()
    assert done.content == "Hi there" and done.finish_reason == "stop"
    assert done.usage == {"total_tokens": 3}


def test_a_tool_round_asks_for_tools_and_carries_the_calls_on() -> None:
    state = TurnState("m1")
    call = ToolCallRequest(call_id="c1", name="get_current_time", arguments={})
    assert state.handle(call) == ToolCall(
        message_id="m1", call_id="c1", name="get_current_time", arguments={}
    )
    state.handle(Finish("tool_calls", usage={"total_tokens": 2}))
    assert state.wants_tools
    request = state.tool_request()
    assert request["role"] == "assistant" and request["tool_calls"][0]["id"] == "c1"
    frame, message = state.tool_result(call, {"now": "noon"})
    assert frame.result == {"now": "noon"} and message["tool_call_id"] == "c1"
    state.start_round()
    state.handle(TextDelta("Noon."))
    state.handle(Finish("stop", usage={"total_tokens": 5}))
    done = state.done()
    assert not state.wants_tools and done.usage == {"total_tokens": 7}
    assert state.timings()["tool_calls"] == 1


def test_a_given_reason_wins_over_the_models() -> None:
    state = TurnState("m1")
    state.handle(TextDelta("Part"))
    assert state.done("cancelled").finish_reason == "cancelled"
    assert state.done("interrupted").content == "Part"


def test_a_round_cut_at_the_length_limit_ends_with_length() -> None:
    state = TurnState("m1")
    state.handle(Finish("length"))
    assert state.done().finish_reason == "length"


def test_timings_measure_from_the_start_to_the_first_token() -> None:
    state = TurnState("m1", clock=_clock([10.0, 10.25, 11.0]))  # type: ignore[arg-type]
    state.handle(TextDelta("a"))
    assert state.timings() == {"ttft_ms": 250.0, "total_ms": 1000.0, "tool_calls": 0}
