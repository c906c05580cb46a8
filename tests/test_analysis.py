"""app.analysis: DataFrames, views, exports and plots on known data; loading from a real server."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from matplotlib.figure import Figure

from app.analysis import (
    Dataset,
    StreamPrinter,
    answer_timing,
    build_dataset,
    converse,
    events_frame,
    export_frames,
    flatten_for_files,
    format_transcript,
    generate_demo_sessions,
    load_from_api,
    load_from_database,
    messages_per_hour,
    plot_answer_timing,
    plot_messages_per_hour,
    plot_tool_usage,
    run_blocking,
    sessions_frame,
    sessions_table,
    tool_usage,
    transcript,
    ws_url,
)
from app.background import BackgroundServer
from app.config import Settings
from app.store.base import DEFAULT_ROLES
from tests.conftest import make_settings

UTC_TS = "datetime64[ns, UTC]"


def known_sessions() -> list[dict[str, Any]]:
    """Two sessions as the REST API returns them: one ended, one still active."""
    return [
        {
            "session_id": "s-ann",
            "user_id": "ann",
            "start_time": "2024-05-01T10:00:00Z",
            "end_time": "2024-05-01T10:05:00Z",
            "duration_seconds": 300.0,
            "status": "ended",
            "summary": "Ann asked the time and for mice.",
            "metadata": {"channel": "web"},
        },
        {
            "session_id": "s-bob",
            "user_id": "bob",
            "start_time": "2024-05-01T12:30:00Z",
            "end_time": None,
            "duration_seconds": None,
            "status": "active",
            "summary": None,
            "metadata": {},
        },
    ]


def _event(kind: str, at: str, content: str = "", **meta: Any) -> dict[str, Any]:
    role = DEFAULT_ROLES.get(kind, "system")
    created = f"2024-05-01T{at}Z"
    return {
        "event_type": kind,
        "role": role,
        "content": content,
        "metadata": meta,
        "created_at": created,
    }


def _tool(kind: str, at: str, call_id: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    key = "arguments" if kind == "tool_call" else "result"
    meta = {"call_id": call_id, "name": name, "message_id": f"m{call_id[1:]}", key: payload}
    return _event(kind, at, json.dumps(payload, separators=(",", ":")), **meta)


def _answer(
    at: str,
    content: str,
    message_id: str,
    reason: str,
    timing: tuple[float, float],
    tokens: int | None,
) -> dict[str, Any]:
    usage = (
        None
        if tokens is None
        else {"prompt_tokens": tokens - 10, "completion_tokens": 10, "total_tokens": tokens}
    )
    return _event(
        "assistant_message",
        at,
        content,
        message_id=message_id,
        finish_reason=reason,
        provider="local",
        model="local-rules",
        ttft_ms=timing[0],
        total_ms=timing[1],
        tool_calls=0 if tokens is None else 1,
        usage=usage,
    )


def known_events() -> list[dict[str, Any]]:
    """Ann: two turns, each with a tool; Bob: one cancelled answer and an error."""
    ann = [
        _event("session_start", "10:00:00", resumed=False),
        _event("user_message", "10:00:10", "What time is it?"),
        _tool("tool_call", "10:00:11", "c1", "get_current_time", {}),
        _tool("tool_result", "10:00:11", "c1", "get_current_time", {"time": "10:00"}),
        _answer("10:00:12", "It is 10:00.", "m1", "stop", (120.0, 900.0), 30),
        _event("user_message", "10:01:00", "Any mice in stock?"),
        _tool("tool_call", "10:01:01", "c2", "check_inventory", {"item": "mice"}),
        _tool("tool_result", "10:01:01", "c2", "check_inventory", {"quantity": 42}),
        _answer("10:01:02", "Yes, 42.", "m2", "stop", (80.5, 700.0), 20),
        _event("session_end", "10:05:00", reason="client closed"),
    ]
    bob = [
        _event("session_start", "12:30:00", resumed=False),
        _event("user_message", "12:30:05", "Hello"),
        _answer("12:30:06", "Hi the", "m3", "cancelled", (50.0, 60.0), None),
        _event("error", "12:31:00", "the model failed"),
    ]
    events = [{"session_id": "s-ann", **e} for e in ann] + [
        {"session_id": "s-bob", **e} for e in bob
    ]
    numbered = [{"id": number, **event} for number, event in enumerate(events, start=1)]
    return numbered[::-1]  # out of order on purpose: frames sort by id


@pytest.fixture
def data() -> Dataset:
    """The known sessions and events as a dataset."""
    return build_dataset(known_sessions(), known_events())


def test_sessions_frame_has_typed_columns_and_expanded_metadata(data: Dataset) -> None:
    sessions = data.sessions
    assert str(sessions["start_time"].dtype) == UTC_TS == str(sessions["end_time"].dtype)
    assert isinstance(sessions["status"].dtype, pd.CategoricalDtype)
    assert list(sessions["status"].cat.categories) == ["active", "ended"]
    assert sessions["session_id"].dtype == "string" and sessions["turns"].dtype == "Int64"
    assert sessions.loc[0, "start_time"] == pd.Timestamp("2024-05-01T10:00:00", tz="UTC")
    assert sessions["end_time"].isna().iloc[1] and sessions["summary"].isna().iloc[1]
    assert sessions["meta.channel"].tolist()[0] == "web" and "metadata" not in sessions


def test_events_frame_orders_by_id_and_expands_metadata(data: Dataset) -> None:
    events = data.events
    assert events["id"].tolist() == list(range(1, 15))
    assert str(events["created_at"].dtype) == UTC_TS and events["id"].dtype == "int64"
    for column in ("event_type", "role", "meta.finish_reason", "meta.provider", "tool"):
        assert isinstance(events[column].dtype, pd.CategoricalDtype), column
    assert events["meta.ttft_ms"].dtype == "float64"
    assert events["meta.usage.total_tokens"].dtype == "Int64"
    assert events["meta.usage.total_tokens"].dropna().tolist() == [30, 20]
    assert events["tool"].dropna().tolist() == ["get_current_time"] * 2 + ["check_inventory"] * 2
    assert events["meta.arguments.item"].dropna().tolist() == ["mice"]


def test_empty_records_give_typed_empty_frames() -> None:
    sessions, events = sessions_frame([]), events_frame([])
    assert sessions.empty and events.empty
    assert str(events["created_at"].dtype) == UTC_TS
    assert isinstance(events["event_type"].dtype, pd.CategoricalDtype)


def test_turns_are_counted_from_the_events_when_not_given(data: Dataset) -> None:
    assert data.sessions.set_index("session_id")["turns"].to_dict() == {"s-ann": 2, "s-bob": 1}


def test_sessions_table_has_turns_duration_tools_and_summary(data: Dataset) -> None:
    table = sessions_table(data).set_index("session_id")
    assert list(table.index) == ["s-bob", "s-ann"]  # newest first
    ann, bob = table.loc["s-ann"], table.loc["s-bob"]
    assert (ann["turns"], ann["answers"], ann["tool_calls"], ann["errors"]) == (2, 2, 2, 0)
    assert ann["tools_used"] == "check_inventory, get_current_time"
    assert ann["duration_seconds"] == 300.0 and ann["summary"].startswith("Ann asked")
    # Still active: the duration runs to its last event.
    assert bob["duration_seconds"] == 60.0 and bob["tools_used"] == "" and bob["errors"] == 1


def test_transcript_is_ordered_and_readable(data: Dataset) -> None:
    rows = transcript(data.events, "s-ann")
    assert rows["id"].tolist() == [2, 3, 4, 5, 6, 7, 8, 9]
    assert rows["text"].tolist()[:4] == [
        "What time is it?",
        "→ get_current_time({})",
        '← get_current_time: {"time":"10:00"}',
        "It is 10:00.",
    ]
    text = format_transcript(transcript(data.events, "s-bob"))
    assert text.splitlines() == [
        "12:30:05  user       Hello",
        "12:30:06  assistant  Hi the [cancelled]",
        "12:31:00  system     the model failed",
    ]


def test_answer_timing_has_one_row_per_answer(data: Dataset) -> None:
    timing = answer_timing(data.events)
    assert timing["message_id"].tolist() == ["m1", "m2", "m3"]
    assert timing["ttft_ms"].tolist() == [120.0, 80.5, 50.0]
    assert timing["total_ms"].tolist() == [900.0, 700.0, 60.0]
    assert timing["finish_reason"].astype(str).tolist() == ["stop", "stop", "cancelled"]
    assert timing["total_tokens"].tolist()[:2] == [30, 20] and pd.isna(timing["total_tokens"][2])
    assert timing["answer_chars"].tolist() == [12, 8, 6]


def test_tool_usage_counts_calls_and_sessions(data: Dataset) -> None:
    usage = tool_usage(data.events)
    assert usage.to_dict("records") == [
        {"tool": "check_inventory", "calls": 1, "sessions": 1},
        {"tool": "get_current_time", "calls": 1, "sessions": 1},
    ]


def test_messages_per_hour_fills_quiet_hours_with_zeros(data: Dataset) -> None:
    hourly = messages_per_hour(data.events)
    assert [str(h) for h in hourly.index] == [
        "2024-05-01 10:00:00+00:00",
        "2024-05-01 11:00:00+00:00",
        "2024-05-01 12:00:00+00:00",
    ]
    assert hourly.to_dict("list") == {"user": [2, 0, 1], "assistant": [2, 0, 1], "total": [4, 0, 2]}
    assert str(hourly.index.dtype) == UTC_TS


def test_views_of_an_empty_dataset_are_empty() -> None:
    empty = build_dataset([], [])
    assert sessions_table(empty).empty and answer_timing(empty.events).empty
    assert tool_usage(empty.events).empty and messages_per_hour(empty.events).empty
    for figure in (
        plot_answer_timing(answer_timing(empty.events)),
        plot_tool_usage(tool_usage(empty.events)),
        plot_messages_per_hour(messages_per_hour(empty.events)),
    ):
        figure.savefig(io.BytesIO(), format="png")


def test_exports_round_trip_through_parquet_and_csv(data: Dataset, tmp_path: Path) -> None:
    frames = {
        "events": data.events,
        "sessions": sessions_table(data),
        "hourly": messages_per_hour(data.events),
    }
    written = export_frames(frames, tmp_path / "exports")
    assert sorted(p.name for p in written) == sorted(
        f"{name}.{kind}" for name in frames for kind in ("csv", "parquet")
    )
    for name, frame in frames.items():
        back = pd.read_parquet(tmp_path / "exports" / f"{name}.parquet")
        pd.testing.assert_frame_equal(back, flatten_for_files(frame), check_freq=False)
    events = pd.read_csv(tmp_path / "exports" / "events.csv", parse_dates=["created_at"])
    assert events["id"].tolist() == data.events["id"].tolist()
    assert events["content"].fillna("").tolist() == data.events["content"].tolist()
    assert events["created_at"].tolist() == data.events["created_at"].tolist()
    hourly = pd.read_csv(tmp_path / "exports" / "hourly.csv", index_col="hour")
    assert hourly["total"].tolist() == [4, 0, 2]


def test_plots_return_figures_that_render(data: Dataset) -> None:
    figures = [
        plot_answer_timing(answer_timing(data.events)),
        plot_tool_usage(tool_usage(data.events)),
        plot_messages_per_hour(messages_per_hour(data.events)),
    ]
    for figure in figures:
        assert isinstance(figure, Figure)
        png = io.BytesIO()
        figure.savefig(png, format="png")
        assert png.getvalue().startswith(b"\x89PNG")


def test_ws_url_follows_the_page_scheme_and_carries_the_token() -> None:
    assert ws_url("http://127.0.0.1:8000", "s1") == "ws://127.0.0.1:8000/ws/session/s1"
    assert (
        ws_url("https://abc.ngrok.app/", "s-2", api_key="k y", user_id="ann")
        == "wss://abc.ngrok.app/ws/session/s-2?user_id=ann&token=k+y"
    )


def test_a_refused_message_ends_its_turn_and_every_frame_is_printed(
    tmp_path: Path, server_factory: Callable[[Settings], BackgroundServer]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    server = server_factory(make_settings(database_url=url, max_message_chars=40))
    out = io.StringIO()
    log = run_blocking(
        converse(server.url, ["x" * 41, "What time is it?"], on_frame=StreamPrinter(out))
    )
    assert [f["code"] for f in log.frames if f["type"] == "error"] == ["message_too_large"]
    assert log.tool_calls == ["get_current_time"] and len(log.answers) == 1
    printed = out.getvalue()
    assert "[error message_too_large]" in printed
    assert "  [tool call] get_current_time({})\n  [tool result] {" in printed
    assert f"assistant: {log.answers[0]}\n  [done: stop, " in printed


async def test_demo_sessions_load_through_the_api_and_the_database(
    settings: Settings, server_factory: Callable[[Settings], BackgroundServer]
) -> None:
    assert settings.database_url is not None
    server = server_factory(make_settings(database_url=settings.database_url, api_key="s3cret"))
    # Called from a running loop, as in Jupyter: the helpers run on their own thread.
    ids = generate_demo_sessions(server.url, 3, api_key="s3cret")
    data = load_from_api(server.url, api_key="s3cret")
    assert sorted(data.sessions["session_id"]) == sorted(ids)
    table = sessions_table(data)
    assert (table["status"] == "ended").all() and table["summary"].notna().all()
    assert table["turns"].tolist() == [3, 3, 3]
    assert set(tool_usage(data.events)["tool"]) == {"get_current_time", "check_inventory"}
    timing = answer_timing(data.events)
    assert len(timing) == 9 and (timing["total_ms"] >= timing["ttft_ms"]).all()
    from_db = load_from_database(settings.database_url)
    by_id = from_db.events.set_index("id")
    assert by_id.index.tolist() == data.events["id"].tolist()
    assert by_id["content"].tolist() == data.events["content"].tolist()
    assert from_db.sessions.dtypes["start_time"] == data.sessions.dtypes["start_time"]
