"""What a compaction sends the model, and the offline provider's own deterministic fold. Pure."""

from __future__ import annotations

from app.chat.history import ContextSummary, Turn, truncate_text
from app.chat.summary import compact_lines, shorten
from app.llm.base import Message
from app.llm.tokens import BYTES_PER_TOKEN, MESSAGE_OVERHEAD, estimate_text

_LINE_CHARS = 300
_LOCAL_LINE_CHARS = 160
_INSTRUCTIONS = (
    "You keep the memory of a long conversation between a user and an assistant. Merge the "
    "summary so far and the turns below into one summary of at most {words} words: what the "
    "user wants, the facts found (tool results included, with their values), what was decided "
    "and what is still open. Plain text, no preamble."
)


def turn_lines(turns: list[Turn], *, line_chars: int = _LINE_CHARS) -> list[str]:
    """The turns as transcript lines: user, assistant, tool calls and their results."""
    lines: list[str] = []
    for turn in turns:
        for message in turn.messages:
            role = message["role"]
            for call in message.get("tool_calls") or ():
                function = call["function"]
                lines.append(f"tool call {function.get('name')}: {function.get('arguments')}")
            content = message.get("content")
            if content and role == "tool":
                lines.append(f"tool result: {content}")
            elif content:
                lines.append(f"{role}: {content}")
    return [shorten(line, line_chars) for line in lines]


def fold_prompt(
    previous: ContextSummary | None, turns: list[Turn], *, max_tokens: int, summary_tokens: int
) -> list[Message]:
    """The request that folds `turns` into the summary so far, kept within `max_tokens`."""
    system = _INSTRUCTIONS.format(words=max(20, summary_tokens * BYTES_PER_TOKEN // 6))
    so_far = previous.text if previous is not None else "(none yet)"
    fixed = 2 * MESSAGE_OVERHEAD + estimate_text(system) + estimate_text(so_far) + 16
    room_chars = max(0, max_tokens - fixed) * BYTES_PER_TOKEN
    # The transcript's lines are ASCII-sized mostly; cutting by characters keeps a margin.
    transcript = compact_lines(turn_lines(turns), max_chars=room_chars // 2)
    content = f"Summary so far:\n{so_far}\n\nTurns to fold in:\n{transcript}"
    return [{"role": "system", "content": system}, {"role": "user", "content": content}]


def local_fold(previous: ContextSummary | None, turns: list[Turn], *, max_tokens: int) -> str:
    """A deterministic summary with no model: one line per turn, the newest lines kept."""
    limit = max_tokens * BYTES_PER_TOKEN
    lines = previous.text.splitlines() if previous is not None else []
    lines += [_turn_line(turn) for turn in turns]
    kept: list[str] = []
    used = 0
    for line in reversed(lines):
        line = shorten(line, limit)
        if used + len(line) + 1 > limit:
            break
        kept.insert(0, line)
        used += len(line) + 1
    return truncate_text("\n".join(kept), max_tokens)


def _turn_line(turn: Turn) -> str:
    """One folded turn: what the user said, the tools' results, what the assistant answered."""
    parts: list[str] = []
    for message in turn.messages:
        content = message.get("content")
        if message["role"] == "tool" and content:
            parts.append(f"tool result {shorten(content, 60)}")
        elif content and message["role"] in ("user", "assistant"):
            parts.append(f"{message['role']}: {shorten(content, 80)}")
    return shorten("; ".join(parts), _LOCAL_LINE_CHARS)
