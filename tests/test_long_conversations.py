"""Long conversations through the real server and the real `openai` SDK: budget, compaction, resume.

The model is the OpenAI-format stand-in (tests/servers/openai_sse.py), which records every request
and counts each prompt with its own word-level tokenizer (finer than the app's estimate), so the
budget holds only if the app uses the counts the model reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from app.background import BackgroundServer
from app.chat.budget import Budget
from app.config import Settings
from app.llm.base import Message
from tests.servers.openai_sse import OpenAIStandIn, ReceivedRequest, prompt_tokens
from tests.wsclient import (
    ask,
    of_type,
    open_session,
    receive,
    send,
    stored_events,
    wait_for_summary,
)

ServerFactory = Callable[[Settings], BackgroundServer]
BUDGET = 1200
TURNS = 240
TOOL_EVERY = 7
FOLD_MARK = "You keep the memory of a long conversation"
pytestmark = pytest.mark.timeout(240)


def _openai(settings: Settings, stand_in: OpenAIStandIn) -> Settings:
    return settings.model_copy(
        update={
            "llm_provider": "openai",
            "openai_base_url": stand_in.base_url,
            "llm_model": "stand-in-model",
            "llm_max_retries": 0,
            "llm_timeout_seconds": 10,
            "llm_context_tokens": BUDGET,
        }
    )


def _summarise(body: dict[str, Any]) -> str:
    """The stand-in's summary: names the latest turn and code word its prompt shows."""
    text = " ".join(str(m.get("content")) for m in body["messages"])
    turns = [int(n) for n in re.findall(r"Turn (\d+)", text)]
    latest = max(turns, default=-1)
    return f"Summary through Turn {latest}: the user listed code words up to w{latest}."


def _script_turn(stand_in: OpenAIStandIn, number: int, *, tool: bool = False) -> None:
    if tool or number % TOOL_EVERY == 0:
        stand_in.answer_tool_calls((f"call_{number}", "check_inventory", '{"item": "mice"}'))
    stand_in.answer_text(f"Noted w{number}. ", "Here is a short note on topic ", f"{number}.")


def _question(number: int) -> str:
    return f"Turn {number}: remember the code word w{number} and tell me about topic {number}."


def _model_calls(stand_in: OpenAIStandIn) -> list[ReceivedRequest]:
    return [r for r in stand_in.requests if r.body.get("stream")]


def _folds(stand_in: OpenAIStandIn) -> list[ReceivedRequest]:
    return [r for r in stand_in.requests if FOLD_MARK in str(r.body["messages"][0]["content"])]


def _assert_pairs_kept(messages: list[Message]) -> None:
    """Every assistant tool call is answered right after it; no result without its call."""
    for index, message in enumerate(messages):
        calls = message.get("tool_calls") or []
        if calls:
            following = messages[index + 1 : index + 1 + len(calls)]
            assert [m.get("tool_call_id") for m in following] == [c["id"] for c in calls]
        if message["role"] == "tool":
            asked = [c["id"] for m in messages[:index] for c in m.get("tool_calls") or []]
            assert message.get("tool_call_id") in asked


async def _converse(ws: ClientConnection, stand_in: OpenAIStandIn, numbers: range) -> list[Any]:
    frames: list[dict[str, Any]] = []
    for number in numbers:
        _script_turn(stand_in, number)
        frames += await ask(ws, _question(number))
    return frames


async def test_a_long_session_stays_within_its_budget_and_compacts_visibly(
    settings: Settings, openai_server: OpenAIStandIn, server_factory: ServerFactory
) -> None:
    openai_server.count_prompts()
    openai_server.write_unstreamed(_summarise)
    server = server_factory(_openai(settings, openai_server))
    ws, _ = await open_session(server.url, "long-1")
    frames = await _converse(ws, openai_server, range(TURNS - 1))
    _script_turn(openai_server, TURNS - 1, tool=True)  # the model must see it after the resume
    frames += await ask(ws, _question(TURNS - 1))
    compacted = of_type(frames, "context.compacted")
    calls = _model_calls(openai_server)
    sizes = [prompt_tokens(r.body) for r in openai_server.requests]
    assert max(sizes) <= BUDGET, max(sizes)
    # Compaction happens, each time when the history had grown near the budget, not before.
    assert len(compacted) == len(_folds(openai_server)) >= 5
    call_limit = Budget(BUDGET).call_limit
    assert all(f["tokens_before"] > call_limit >= f["tokens_after"] for f in compacted)
    before_fold = [
        prompt_tokens(calls[i - 1].body)
        for i, r in enumerate(calls)
        if i and r.body["messages"][1]["content"] != calls[i - 1].body["messages"][1]["content"]
    ]
    assert before_fold and min(before_fold) > BUDGET // 2, before_fold
    for request in calls:
        _assert_pairs_kept(request.body["messages"])
    assert all(isinstance(f["seq"], int) and f["covers_through_id"] > 0 for f in compacted)
    latest = compacted[-1]
    assert calls[-1].body["messages"][1]["content"].endswith(latest["summary"])
    stored = [
        e for e in await stored_events(server.url, "long-1") if e["event_type"] == "context_summary"
    ]
    assert [e["content"] for e in stored] == [f["summary"] for f in compacted]
    assert [e["metadata"]["covers_through_id"] for e in stored] == sorted(
        {f["covers_through_id"] for f in compacted}
    )  # increasing: no range is folded twice
    full_history = _whole_history_size(calls[-1].body, await stored_events(server.url, "long-1"))
    print(
        f"\n{TURNS} turns, budget {BUDGET}: {len(openai_server.requests)} requests,"
        f" largest {max(sizes)} tokens, last {sizes[-1]}; {len(compacted)} compactions;"
        f" the whole history would be {full_history} tokens"
    )
    await ws.close()

    # Resumed: the first request starts from the latest summary.
    session = await wait_for_summary(server.url, "long-1")
    assert f"Turn {TURNS - 1}" in session["summary"]
    end_request = openai_server.requests[-1].body["messages"][1]["content"]
    assert _question(TURNS - 1) in end_request and latest["summary"] in end_request
    again, started = await open_session(server.url, "long-1", after_seq=0)
    replayed = await _frames_until(again, started["last_seq"])
    assert [f["seq"] for f in of_type(replayed, "context.compacted")] == [
        f["seq"] for f in compacted
    ]
    seen = len(_model_calls(openai_server))
    openai_server.answer_text("Still here.")
    resumed = await ask(again, "What did the inventory say?")
    # The latest summary as stored, or the one this first turn made if it had to fold again.
    newest = [*compacted, *of_type(resumed, "context.compacted")][-1]
    first = _model_calls(openai_server)[seen].body["messages"]
    assert first[1]["content"].endswith(newest["summary"])
    _assert_pairs_kept(first)
    await again.close()


async def test_after_a_restart_the_model_sees_the_latest_summary_and_earlier_tool_results(
    settings: Settings, openai_server: OpenAIStandIn, server_factory: ServerFactory
) -> None:
    openai_server.count_prompts()
    openai_server.write_unstreamed(_summarise)
    configured = _openai(settings, openai_server)
    server = server_factory(configured)
    ws, _ = await open_session(server.url, "long-2")
    frames = await _converse(ws, openai_server, range(39))
    _script_turn(openai_server, 39, tool=True)
    frames += await ask(ws, _question(39))
    latest = of_type(frames, "context.compacted")[-1]
    await ws.close()
    await wait_for_summary(server.url, "long-2")
    server.stop()
    restarted = server_factory(configured)
    openai_server.answer_text("Back again.")
    ws, _ = await open_session(restarted.url, "long-2")
    await ask(ws, "What did the inventory say?")
    messages = _model_calls(openai_server)[-1].body["messages"]
    assert messages[1]["content"].endswith(latest["summary"])
    tool_results = [m for m in messages if m["role"] == "tool"]
    assert tool_results and '"quantity":42' in tool_results[-1]["content"]
    assert prompt_tokens(_model_calls(openai_server)[-1].body) <= BUDGET
    _assert_pairs_kept(messages)
    await ws.close()


async def test_the_local_provider_compacts_with_its_own_summariser_and_ends_with_the_last_turn(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = server_factory(settings.model_copy(update={"llm_context_tokens": 600}))
    ws, _ = await open_session(server.url, "long-local")
    frames: list[dict[str, Any]] = []
    for number in range(60):
        text = "Do we have any mice in stock?" if number % 9 == 0 else _question(number)
        frames += await ask(ws, text)
    compacted = of_type(frames, "context.compacted")
    assert len(compacted) >= 2 and all(f["tokens_after"] <= 600 for f in compacted)
    assert "Turn" in compacted[-1]["summary"]
    dones = of_type(frames, "assistant.done")
    assert all(d["usage"]["prompt_tokens"] <= 600 * 2 for d in dones)  # two rounds at most
    await ws.close()
    session = await wait_for_summary(server.url, "long-local")
    assert "Turn 59" in session["summary"] and "60 messages" in session["summary"]


async def _frames_until(ws: ClientConnection, last_seq: int) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1].get("seq") != last_seq:
        frames.append(await receive(ws))
    return frames


def _whole_history_size(last_body: dict[str, Any], events: list[dict[str, Any]]) -> int:
    """What the last request would have weighed with every turn in it (no compaction)."""
    from app.chat.history import turns_from_events
    from app.store.base import EventRecord

    records = [EventRecord.model_validate(e) for e in events]
    turns = turns_from_events(
        [r for r in records if r.event_type != "context_summary"], max_result_tokens=10**6
    )
    messages = [last_body["messages"][0], *(m for t in turns for m in t.messages)]
    return prompt_tokens({"messages": messages, "tools": last_body.get("tools")})


async def test_queued_messages_stay_within_the_budget(
    settings: Settings, openai_server: OpenAIStandIn, server_factory: ServerFactory
) -> None:
    """Questions queued behind an answer are stored on arrival, before the answers they wait
    for; compaction still keeps every request within the budget."""
    openai_server.count_prompts()
    openai_server.write_unstreamed(_summarise)
    server = server_factory(_openai(settings, openai_server))
    ws, _ = await open_session(server.url, "long-queued")
    frames: list[dict[str, Any]] = []
    for first in range(0, 60, 5):
        numbers = range(first, first + 5)
        for number in numbers:
            _script_turn(openai_server, number, tool=False)
        for number in numbers:
            await send(
                ws, {"type": "user.message", "content": _question(number), "on_busy": "enqueue"}
            )
        while sum(f["type"] == "assistant.done" for f in frames) < first + 5:
            frames.append(await receive(ws))
    assert {f["finish_reason"] for f in of_type(frames, "assistant.done")} == {"stop"}
    assert of_type(frames, "context.compacted")
    sizes = [prompt_tokens(r.body) for r in openai_server.requests]
    assert max(sizes) <= BUDGET, max(sizes)
