"""Assembling streamed tool-call deltas into whole calls, with no network."""

from __future__ import annotations

import json

from app.llm.base import ToolCallRequest
from app.llm.tool_calls import ToolCallAssembler


def test_arguments_split_across_chunks_are_joined_and_parsed() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, call_id="call_1", name="check_inventory", arguments="")
    for piece in ['{"it', 'em": "mi', 'ce"}']:
        assembler.add(0, arguments=piece)
    assert assembler.finish() == [ToolCallRequest("call_1", "check_inventory", {"item": "mice"})]
    assert assembler.errors == []


def test_interleaved_calls_come_out_in_index_order() -> None:
    assembler = ToolCallAssembler()
    assembler.add(1, call_id="call_b", name="check_inventory")
    assembler.add(0, call_id="call_a", name="get_current_time")
    assembler.add(1, arguments='{"item": ')
    assembler.add(0, arguments='{"timezone": "UTC"}')
    assembler.add(1, arguments='"webcam"}')
    calls = assembler.finish()
    assert [c.call_id for c in calls] == ["call_a", "call_b"]
    assert calls[0].arguments == {"timezone": "UTC"}
    assert calls[1].arguments == {"item": "webcam"}


def test_malformed_argument_json_becomes_empty_arguments_and_is_recorded() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, call_id="call_1", name="check_inventory", arguments='{"item": "mi')
    assert assembler.finish() == [ToolCallRequest("call_1", "check_inventory", {})]
    assert len(assembler.errors) == 1
    assert "check_inventory" in assembler.errors[0]


def test_arguments_that_are_not_an_object_are_recorded_as_an_error() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, call_id="call_1", name="get_current_time", arguments='["UTC"]')
    assert assembler.finish()[0].arguments == {}
    assert assembler.errors


def test_no_argument_text_means_no_arguments() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, call_id="call_1", name="get_current_time")
    assert assembler.finish() == [ToolCallRequest("call_1", "get_current_time", {})]
    assert assembler.errors == []


def test_a_name_repeated_in_every_delta_is_not_doubled() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, call_id="call_1", name="get_current_time", arguments="{}")
    assembler.add(0, call_id="call_1", name="get_current_time")
    assert assembler.finish()[0].name == "get_current_time"


def test_deltas_without_an_index_are_grouped_by_their_id() -> None:
    assembler = ToolCallAssembler()
    assembler.add(None, call_id="call_a", name="get_current_time", arguments='{"timezone": ')
    assembler.add(None, arguments='"UTC"}')
    assembler.add(None, call_id="call_b", name="check_inventory", arguments='{"item": "mouse"}')
    calls = assembler.finish()
    assert [(c.call_id, c.arguments) for c in calls] == [
        ("call_a", {"timezone": "UTC"}),
        ("call_b", {"item": "mouse"}),
    ]


def test_a_call_without_an_id_gets_one_and_a_call_without_a_name_is_dropped() -> None:
    assembler = ToolCallAssembler()
    assembler.add(0, name="get_current_time", arguments="{}")
    assembler.add(1, call_id="call_x", arguments=json.dumps({"item": "mouse"}))
    calls = assembler.finish()
    assert [(c.call_id, c.name) for c in calls] == [("call_0", "get_current_time")]
    assert any("#1" in error for error in assembler.errors)


def test_an_empty_assembler_has_no_calls() -> None:
    assembler = ToolCallAssembler()
    assert assembler.finish() == []
    assert assembler.errors == []
