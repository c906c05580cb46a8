"""Stored events as export text: JSON lines, CSV rows, a Markdown transcript. Pure, no I/O."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from app.store.base import EventRecord, SessionRecord

# The columns of `session_events`, in the table's order: the CSV header and each JSON line's keys.
EVENT_COLUMNS = ("id", "session_id", "event_type", "role", "content", "metadata", "created_at")
MEDIA_TYPES = {"md": "text/markdown", "jsonl": "application/x-ndjson", "csv": "text/csv"}
_BACKTICKS = re.compile(r"`+")
_SPEAKERS = {"user_message": "User", "assistant_message": "Assistant"}


def _values(event: EventRecord) -> dict[str, Any]:
    return {
        "id": event.id,
        "session_id": event.session_id,
        "event_type": event.event_type,
        "role": event.role,
        "content": event.content,
        "metadata": event.metadata,
        "created_at": event.created_at.isoformat(),
    }


def json_lines(events: Iterable[EventRecord]) -> str:
    """One JSON object per event and line, as `GET /sessions/{id}/events` returns each."""
    return "".join(orjson.dumps(_values(event)).decode() + "\n" for event in events)


def csv_header() -> str:
    """The CSV header line."""
    return _csv([list(EVENT_COLUMNS)])


def csv_rows(events: Iterable[EventRecord]) -> str:
    """CSV rows of events; `metadata` is JSON text, `created_at` ISO 8601 with its offset."""
    rows = []
    for event in events:
        values = _values(event)
        values["metadata"] = orjson.dumps(event.metadata).decode()
        rows.append([values[column] for column in EVENT_COLUMNS])
    return _csv(rows)


def _csv(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def code(text: str) -> str:
    """`text` as Markdown inline code, whatever backticks it holds (CommonMark's rule)."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def markdown_header(session: SessionRecord) -> str:
    """The transcript's title and the session's facts."""
    lines = [
        f"# Session {code(session.session_id)}",
        "",
        f"- user: {code(session.user_id)}",
        f"- status: {session.status}",
        f"- started: {_when(session.start_time)}",
        f"- ended: {_when(session.end_time)}",
    ]
    if session.duration_seconds is not None:
        lines.append(f"- duration: {session.duration_seconds:.1f} s")
    if session.summary:
        lines += ["", "## Summary", "", session.summary.strip()]
    return "\n".join([*lines, "", "## Conversation", "", ""])


def markdown_events(events: Iterable[EventRecord]) -> str:
    """The conversation part of a transcript, one block per event."""
    return "".join(_block(event) + "\n\n" for event in events)


def _block(event: EventRecord) -> str:
    meta, kind = event.metadata, event.event_type
    at = f"{event.created_at:%H:%M:%S}"
    if kind in _SPEAKERS:
        return f"**{_SPEAKERS[kind]}** · {at}{_answer_facts(meta)}\n\n{_quoted(event.content)}"
    name = str(meta.get("name", "?"))
    if kind == "tool_call":
        return f"→ tool call {code(name)} · {at}: {code(event.content)}"
    if kind == "tool_result":
        return f"← tool result {code(name)} · {at}: {code(event.content)}"
    if kind == "error":
        return f"*error {code(str(meta.get('code', '?')))} · {at}: {event.content}*"
    details = ", ".join(f"{key} {value}" for key, value in meta.items() if key != "seq")
    note = f" ({details})" if details else ""
    return f"*{kind.replace('_', ' ')} · {at}{note}*" + (
        f"\n\n{_quoted(event.content)}" if event.content else ""
    )


def _answer_facts(meta: dict[str, Any]) -> str:
    facts = []
    reason = meta.get("finish_reason")
    if reason is not None and reason != "stop":
        facts.append(str(reason))
    if isinstance(meta.get("ttft_ms"), int | float):
        facts.append(f"first token {meta['ttft_ms']:.0f} ms")
    usage = meta.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("total_tokens"), int):
        facts.append(f"{usage['total_tokens']} tokens")
    if isinstance(meta.get("cost_usd"), int | float):
        facts.append(f"${meta['cost_usd']:.6f}")
    return "".join(f" · {fact}" for fact in facts)


def _quoted(text: str) -> str:
    """Message text as a block quote, so its own Markdown stays inside the message."""
    return "\n".join(f"> {line}" if line else ">" for line in (text or "").split("\n"))
