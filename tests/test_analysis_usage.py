"""Usage per session and per user (TTFT, tokens, cost) on known data, and from a real export."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from matplotlib.figure import Figure

from app.analysis import (
    Dataset,
    answer_usage,
    build_dataset,
    load_from_api,
    load_from_export,
    plot_usage_by_user,
    usage_by_session,
    usage_by_user,
)
from app.background import BackgroundServer
from app.config import Settings
from tests.wsclient import ask, open_session

pytestmark = pytest.mark.timeout(120)
ServerFactory = Callable[[Settings], BackgroundServer]


def _session(session_id: str, user_id: str) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "user_id": user_id,
        "start_time": "2024-05-01T10:00:00Z",
        "status": "ended",
        "metadata": {},
    }


def _answer(
    number: int, session_id: str, ttft: float, tokens: tuple[int, int], cost: float | None
) -> dict[str, Any]:
    usage = {"prompt_tokens": tokens[0], "completion_tokens": tokens[1]}
    meta: dict[str, Any] = {"ttft_ms": ttft, "total_ms": ttft * 4, "usage": usage}
    if cost is not None:
        meta["cost_usd"] = cost
    return {
        "id": number,
        "session_id": session_id,
        "event_type": "assistant_message",
        "role": "assistant",
        "content": "answer",
        "metadata": meta,
        "created_at": f"2024-05-01T10:00:{number:02d}Z",
    }


def known() -> Dataset:
    """Ann has two sessions (three answers, priced); Bob one session, one answer, no price."""
    sessions = [_session("a1", "ann"), _session("a2", "ann"), _session("b1", "bob")]
    events = [
        _answer(1, "a1", 100.0, (10, 5), 0.001),
        _answer(2, "a1", 300.0, (20, 5), 0.002),
        _answer(3, "a2", 200.0, (30, 10), 0.004),
        _answer(4, "b1", 50.0, (7, 3), None),
        {**_answer(5, "b1", 0, (0, 0), None), "event_type": "user_message", "role": "user"},
    ]
    return build_dataset(sessions, events)


def test_usage_by_session_sums_tokens_and_cost_and_takes_ttft_percentiles() -> None:
    per = usage_by_session(known()).set_index("session_id")
    assert per.loc["a1", "answers"] == 2 and per.loc["a1", "user_id"] == "ann"
    assert per.loc["a1", "ttft_ms_median"] == 200.0
    assert per.loc["a1", "ttft_ms_p90"] == pytest.approx(280.0)
    assert per.loc["a1", "prompt_tokens"] == 30 and per.loc["a1", "completion_tokens"] == 10
    assert per.loc["a1", "cost_usd"] == pytest.approx(0.003)
    assert per.loc["b1", "answers"] == 1 and per["cost_usd"].isna().tolist() == [False] * 2 + [True]


def test_usage_by_user_counts_sessions_and_puts_the_costliest_first() -> None:
    per = usage_by_user(known())
    assert per["user_id"].tolist() == ["ann", "bob"]
    ann = per.iloc[0]
    assert (ann["sessions"], ann["answers"]) == (2, 3)
    assert ann["ttft_ms_median"] == 200.0 and ann["total_ms_median"] == 800.0
    assert (ann["prompt_tokens"], ann["completion_tokens"]) == (60, 20)
    assert ann["cost_usd"] == pytest.approx(0.007)
    assert per.iloc[1]["prompt_tokens"] == 7 and pd.isna(per.iloc[1]["cost_usd"])


def test_usage_of_no_answers_is_empty_and_still_plots() -> None:
    empty = build_dataset([], [])
    assert answer_usage(empty).empty and usage_by_user(empty).empty
    assert "cost_usd" in usage_by_session(empty)
    assert isinstance(plot_usage_by_user(usage_by_user(empty)), Figure)


def test_the_usage_plot_has_ttft_tokens_and_cost_per_user() -> None:
    figure = plot_usage_by_user(usage_by_user(known()))
    ttft, tokens, cost = figure.axes[:3]
    assert [t.get_text() for t in ttft.get_yticklabels()] == ["bob", "ann"]
    assert [bar.get_width() for bar in ttft.containers[0]] == [50.0, 200.0]
    assert len(tokens.patches) == 4  # prompt and completion for each user
    assert [t.get_text() for t in cost.texts] == ["$0", "$0.007"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_export_and_the_api_give_the_same_usage_with_prices(
    settings: Settings, server_factory: ServerFactory
) -> None:
    prices = {"local-rules": {"prompt": 1.0, "completion": 4.0}}
    server = server_factory(settings.model_copy(update={"llm_prices": json.dumps(prices)}))
    for session_id, user in (("u-1", "ann"), ("u-2", "ann"), ("u-3", "bob")):
        ws, _ = await open_session(server.url, session_id, user_id=user)
        await ask(ws, "What time is it?")
        await ask(ws, "hello")
        await ws.close()
    exported = usage_by_user(load_from_export(server.url))
    through_api = usage_by_user(load_from_api(server.url))
    pd.testing.assert_frame_equal(exported, through_api)
    ann = exported.set_index("user_id").loc["ann"]
    assert (ann["sessions"], ann["answers"]) == (2, 4)
    expected = (ann["prompt_tokens"] * 1.0 + ann["completion_tokens"] * 4.0) / 1e6
    assert ann["cost_usd"] == pytest.approx(expected)
    only_bob = load_from_export(server.url, user_id="bob")
    assert set(only_bob.sessions["session_id"]) == {"u-3"}
