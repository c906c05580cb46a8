"""Views a person studying conversations wants: sessions, transcripts, timings, tools, traffic."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import pandas as pd

from app.analysis.frames import Dataset

_MESSAGES = {"user_message": "user", "assistant_message": "assistant"}
_TRANSCRIPT_EVENTS = ("user_message", "assistant_message", "tool_call", "tool_result", "error")
_TIMING_COLUMNS = {
    "meta.message_id": "message_id",
    "meta.finish_reason": "finish_reason",
    "meta.provider": "provider",
    "meta.model": "model",
    "meta.ttft_ms": "ttft_ms",
    "meta.total_ms": "total_ms",
    "meta.tool_calls": "tool_calls",
    "meta.usage.total_tokens": "total_tokens",
}


def sessions_table(data: Dataset) -> pd.DataFrame:
    """One row per session, newest first: turns, answers, duration, tools used, errors, summary."""
    events = data.events
    per_session = events.groupby("session_id", observed=True)
    kinds = pd.crosstab(events["session_id"], events["event_type"].astype("string"))
    table = data.sessions[["session_id", "user_id", "status", "start_time", "end_time"]].copy()
    # reindex, not map: pandas 3 cannot map an empty column onto datetimes.
    last_event = per_session["created_at"].max().reindex(table["session_id"]).set_axis(table.index)
    table["duration_seconds"] = data.sessions["duration_seconds"].fillna(
        (last_event - table["start_time"]).dt.total_seconds()
    )
    table["turns"] = data.sessions["turns"]
    for column, kind in (("answers", "assistant_message"), ("tool_calls", "tool_call")):
        table[column] = _count(table["session_id"], kinds, kind)
    table["tools_used"] = table["session_id"].map(_tools_by_session(events)).fillna("")
    table["tools_used"] = table["tools_used"].astype("string")
    table["errors"] = _count(table["session_id"], kinds, "error")
    table["summary"] = data.sessions["summary"]
    return table.sort_values("start_time", ascending=False, kind="stable", ignore_index=True)


def transcript(events: pd.DataFrame, session_id: str) -> pd.DataFrame:
    """A session's messages and tool traffic in order, one readable `text` per row."""
    rows = events[
        (events["session_id"] == session_id) & events["event_type"].isin(_TRANSCRIPT_EVENTS)
    ].sort_values("id", kind="stable")
    text = [_line(row) for row in rows.to_dict("records")]
    shown = rows[["id", "created_at", "role", "event_type"]].reset_index(drop=True)
    shown["text"] = pd.Series(text, dtype="string")
    return shown


def format_transcript(rows: pd.DataFrame) -> str:
    """A transcript as plain text lines: time, role and text."""
    return "\n".join(
        f"{row.created_at:%H:%M:%S}  {row.role:<9}  {row.text}" for row in rows.itertuples()
    )


def answer_timing(events: pd.DataFrame) -> pd.DataFrame:
    """Per assistant answer: time to first token, whole answer time, finish reason, tokens."""
    answers = events[events["event_type"] == "assistant_message"]
    timing = answers[["id", "session_id", "created_at"]].copy()
    for source, name in _TIMING_COLUMNS.items():
        timing[name] = answers[source] if source in answers else pd.Series(dtype="float64")
    timing["answer_chars"] = answers["content"].str.len().astype("Int64")
    return timing.reset_index(drop=True)


def tool_usage(events: pd.DataFrame) -> pd.DataFrame:
    """Calls and distinct sessions per tool, most used first."""
    calls = events[events["event_type"] == "tool_call"]
    usage = (
        calls.groupby("tool", observed=True)
        .agg(calls=("id", "size"), sessions=("session_id", "nunique"))
        .reset_index()
    )
    usage["tool"] = usage["tool"].astype("string")
    return usage.sort_values(["calls", "tool"], ascending=[False, True], ignore_index=True)


def messages_per_hour(events: pd.DataFrame) -> pd.DataFrame:
    """User and assistant messages per UTC hour, hours without any included as zeros."""
    columns = [*_MESSAGES.values(), "total"]
    messages = events[events["event_type"].isin(list(_MESSAGES))]
    if messages.empty:
        hours = pd.DatetimeIndex([], tz="UTC", name="hour").as_unit("ns")
        return pd.DataFrame(0, index=hours, columns=columns, dtype="int64")
    hour = messages["created_at"].dt.floor("h").rename("hour")
    sender = messages["event_type"].astype("string").map(_MESSAGES).rename("sender")
    counts = pd.crosstab(hour, sender).reindex(columns=list(_MESSAGES.values()), fill_value=0)
    full = pd.date_range(counts.index.min(), counts.index.max(), freq="h", name="hour")
    counts = counts.reindex(full, fill_value=0)
    counts.columns.name = None
    counts["total"] = counts.sum(axis=1)
    return counts[columns].astype("int64")


def _count(session_ids: pd.Series, kinds: pd.DataFrame, kind: str) -> pd.Series:
    if kind not in kinds:
        return pd.Series(0, index=session_ids.index, dtype="int64")
    return session_ids.map(kinds[kind]).fillna(0).astype("int64")


def _tools_by_session(events: pd.DataFrame) -> pd.Series:
    calls = events[events["event_type"] == "tool_call"].dropna(subset=["tool"])
    names = calls.groupby("session_id", observed=True)["tool"]
    return names.agg(lambda tools: ", ".join(sorted(set(tools.astype(str)))))


def _line(row: Mapping[Hashable, Any]) -> str:
    kind, content, tool = row["event_type"], row["content"], row.get("tool")
    reason = row.get("meta.finish_reason")
    if kind == "tool_call":
        return f"→ {tool}({content})"
    if kind == "tool_result":
        return f"← {tool}: {content}"
    if kind == "assistant_message" and isinstance(reason, str) and reason != "stop":
        return f"{content} [{reason}]"
    return str(content)
