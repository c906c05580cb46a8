"""Session summaries: extractive from the stored events, or written by the model when it can."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from app.chat.records import finish_reason
from app.llm.base import LLMError, Message, Provider
from app.store.base import EventRecord, SessionRecord
from app.vocabulary import FinishReason

# Bounds that keep a summary prompt small whatever the session's length.
_LINE_CHARS = 300
_TRANSCRIPT_CHARS = 6000
_ENDINGS: dict[FinishReason, str] = {
    "stop": "the last answer completed",
    "length": "the last answer was cut off at the length limit",
    "cancelled": "the last answer was cancelled",
    "error": "the last answer failed with an error",
    "interrupted": "the last answer was cut off when the service stopped",
}
_SUMMARY_INSTRUCTIONS = (
    "Summarise this conversation between a user and an assistant in two to four plain sentences: "
    "what the user wanted, what the assistant found (including tool results), and how it ended. "
    "No preamble, no lists."
)


def extractive_summary(session: SessionRecord, events: list[EventRecord]) -> str:
    """A few readable lines: who asked what, tools used, duration and how it ended."""
    questions = [e.content for e in events if e.event_type == "user_message"]
    # A long session is read as its start, its latest context summary and its end.
    turns = max(len(questions), session.turns)
    plural = "s" if turns != 1 else ""
    duration = format_duration(_duration(session, events))
    lines = [f"User {session.user_id} sent {turns} message{plural} over {duration}."]
    if questions:
        asked = "; ".join(f'"{shorten(q, 60)}"' for q in questions[:3])
        more = f" and {turns - 3} more" if turns > 3 else ""
        lines.append(f"Asked: {asked}{more}.")
    if len(questions) > 3:
        lines.append(f'Last asked: "{shorten(questions[-1], 60)}".')
    earlier = latest_context_summary(events)
    if earlier:
        lines.append(f"Earlier turns in brief: {shorten(earlier, 300)}")
    lines.append(_tools_line(events))
    lines.append(_ending_line(events))
    return "\n".join(lines)


def summary_prompt(session: SessionRecord, events: list[EventRecord]) -> list[Message]:
    """The messages asking a model to summarise the session, transcript compacted and bounded."""
    facts = extractive_summary(session, events)
    transcript = compact_lines(_transcript_lines(events))
    earlier = latest_context_summary(events)
    folded = f"Summary of the earlier turns:\n{shorten(earlier, 3000)}\n\n" if earlier else ""
    content = f"Facts:\n{facts}\n\n{folded}Transcript:\n{transcript or '(no messages)'}"
    return [
        {"role": "system", "content": _SUMMARY_INSTRUCTIONS},
        {"role": "user", "content": content},
    ]


async def build_summary(
    session: SessionRecord, events: list[EventRecord], provider: Provider
) -> str:
    """The model's summary if the provider writes them, else (or on LLMError) the extractive one."""
    if provider.writes_summaries and any(e.event_type == "user_message" for e in events):
        try:
            written = (await provider.complete(summary_prompt(session, events))).strip()
        except LLMError:
            written = ""
        if written:
            return written
    return extractive_summary(session, events)


def latest_context_summary(events: list[EventRecord]) -> str | None:
    """The text of the latest `context_summary` among `events`, if any."""
    for event in reversed(events):
        if event.event_type == "context_summary":
            return event.content
    return None


def format_duration(seconds: float) -> str:
    """A short human duration: '45 s', '2 min 5 s', '1 h 3 min'."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def _duration(session: SessionRecord, events: list[EventRecord]) -> float:
    if session.duration_seconds is not None:
        return session.duration_seconds
    end = session.end_time or (events[-1].created_at if events else session.start_time)
    return max(timedelta(0), end - session.start_time).total_seconds()


def _tools_line(events: list[EventRecord]) -> str:
    names = Counter(
        str(e.metadata.get("name") or e.content or "unknown")
        for e in events
        if e.event_type == "tool_call"
    )
    if not names:
        return "No tools were used."
    used = ", ".join(f"{name} ({count}×)" for name, count in sorted(names.items()))
    return f"Tools used: {used}."


def _ending_line(events: list[EventRecord]) -> str:
    answers = [e for e in events if e.event_type == "assistant_message"]
    failed = [e for e in answers if e.metadata.get("finish_reason") == "error"]
    failed_ids = {e.metadata.get("message_id") for e in failed} - {None}
    # An answer that failed is one error, whether or not its error frame was stored too.
    errors = len(failed) + sum(
        1
        for e in events
        if e.event_type == "error" and e.metadata.get("message_id") not in failed_ids
    )
    ending = "no answer was given"
    if answers:
        ending = _ENDINGS[finish_reason(answers[-1].metadata.get("finish_reason"))]
    problems = "no errors" if not errors else f"{errors} error{'s' if errors != 1 else ''}"
    return f"It ended with {ending}; {problems}."


def _transcript_lines(events: list[EventRecord]) -> list[str]:
    lines = []
    for event in events:
        text = " ".join(event.content.split())
        if event.event_type == "user_message":
            lines.append(f"user: {text}")
        elif event.event_type == "assistant_message" and text:
            lines.append(f"assistant: {text}")
        elif event.event_type == "tool_call":
            arguments = json.dumps(event.metadata.get("arguments", text), default=str)
            lines.append(f"tool call {event.metadata.get('name', '?')}: {arguments}")
        elif event.event_type == "tool_result":
            lines.append(f"tool result: {text}")
        elif event.event_type == "error":
            lines.append(f"error: {text}")
    return [shorten(line, _LINE_CHARS) for line in lines]


def compact_lines(lines: list[str], max_chars: int = _TRANSCRIPT_CHARS) -> str:
    """Keep the start and the end of a long transcript, saying how much was left out."""
    if sum(len(line) + 1 for line in lines) <= max_chars:
        return "\n".join(lines)
    head: list[str] = []
    tail: list[str] = []
    budget = max_chars // 2
    for line in lines:
        if len(line) + 1 > budget:
            break
        head.append(line)
        budget -= len(line) + 1
    budget = max_chars // 2
    for line in reversed(lines[len(head) :]):
        if len(line) + 1 > budget:
            break
        tail.insert(0, line)
        budget -= len(line) + 1
    omitted = len(lines) - len(head) - len(tail)
    return "\n".join([*head, f"… ({omitted} lines left out) …", *tail])


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
