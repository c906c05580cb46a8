"""The checks before the database (app/validation.py), and what the server mends itself."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.chat.events import AssistantDone, ToolResult
from app.chat.records import frame_record
from app.store.base import Store
from app.validation import (
    INT64_MAX,
    INT64_MIN,
    MAX_METADATA_BYTES,
    Unstorable,
    check_json,
    check_text,
    storable_json,
    storable_text,
    text_problem,
)


@pytest.mark.parametrize("text", ["", "plain", "naïve — 日本語 🎉", "tab\tnew\nline", "\ufffd"])
def test_storable_text_passes_unchanged(text: str) -> None:
    assert text_problem(text) is None and check_text(text) is text
    assert storable_text(text) is text


@pytest.mark.parametrize(
    ("text", "word"),
    [("a\x00b", "NUL"), ("\x00", "NUL"), ("\ud800", "surrogate"), ("x\udfffy", "surrogate")],
)
def test_nul_and_lone_surrogates_are_refused_and_mended(text: str, word: str) -> None:
    problem = text_problem(text)
    assert problem is not None and word in problem
    with pytest.raises(Unstorable):
        check_text(text)
    mended = storable_text(text)
    assert text_problem(mended) is None and len(mended) == len(text) and "\ufffd" in mended


@pytest.mark.parametrize(
    "value",
    [
        {"n": math.nan},
        {"n": [math.inf]},
        {"n": -math.inf},
        {"n": INT64_MAX + 1},
        {"n": INT64_MIN - 1},
        {"k\x00": 1},
        {"k": {"deeper": "\ud800"}},
        {"big": "x" * MAX_METADATA_BYTES},
        {"odd": object()},
    ],
)
def test_unstorable_json_is_refused(value: dict[str, Any]) -> None:
    with pytest.raises(Unstorable):
        check_json(value)


# Hypothesis' own text never holds a lone surrogate: mix some in, with NULs.
texts = st.text() | st.text(st.sampled_from(["a", "\x00", "\ud800", "\udfff", "é", "🎉"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(INT64_MIN, INT64_MAX) | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_mended_json_is_always_storable(value: Any) -> None:
    mended = storable_json({"v": value})
    assert check_json(mended) == mended


@given(texts)
def test_mended_text_is_always_storable(text: str) -> None:
    assert text_problem(storable_text(text)) is None


async def test_what_a_model_or_tool_says_is_stored_mended(store: Store) -> None:
    await store.create_session(session_id="m", user_id="u")
    done = AssistantDone(message_id="a1", content="x\x00y\ud800", finish_reason="stop", seq=2)
    result = ToolResult(
        message_id="a1", call_id="c", name="t", result={"v": math.nan, "s": "\x00"}, seq=1
    )
    for frame in (result, done):
        record = frame_record("m", frame)
        assert record is not None
        await store.add_event(record)
    events = await store.list_events("m")
    assert events[0].metadata["result"] == {"v": None, "s": "\ufffd"}
    assert events[1].content == "x\ufffdy\ufffd"
