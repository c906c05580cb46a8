"""A token estimate without a tokenizer: what chat messages add to a prompt, from their bytes.

OpenAI's tokenizers average about four characters of English per token. Counting three UTF-8
bytes per token over-counts English, code and JSON a little, and counts CJK text (three bytes per
character, about one token each) about right, so a budget kept with this estimate keeps some room.
Tool traffic is JSON, dense with quotes and punctuation that tokenizers count one by one, so its
arguments and results are counted at two bytes per token.
Wherever a provider reported `usage.prompt_tokens`, that count is used instead (app/chat/budget.py).
No tokenizer is downloaded: many machines and notebooks have no access to one.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import orjson

from app.llm.base import Message, ToolSpec

BYTES_PER_TOKEN = 3
JSON_BYTES_PER_TOKEN = 2
# Role, separators and the reply's priming, as OpenAI's chat format adds to every message.
MESSAGE_OVERHEAD = 4


def estimate_text(text: str | None) -> int:
    """Tokens `text` is estimated to take (0 for none)."""
    return _text_tokens(text) if text else 0


def estimate_json(text: str | None) -> int:
    """Tokens JSON text (tool arguments and results) is estimated to take."""
    return _json_tokens(text) if text else 0


# History repeats on every call; a string's hash is cached, and a cache of one str argument
# uses the string itself as its key, so a hit costs about a dict lookup.
@lru_cache(maxsize=16384)
def _text_tokens(text: str) -> int:
    return _ceil_bytes(text, BYTES_PER_TOKEN)


@lru_cache(maxsize=4096)
def _json_tokens(text: str) -> int:
    return _ceil_bytes(text, JSON_BYTES_PER_TOKEN)


def _ceil_bytes(text: str, per_token: int) -> int:
    return -(-len(text.encode("utf-8", "surrogatepass")) // per_token)


def estimate_message(message: Message) -> int:
    """Tokens one chat message is estimated to take, tool calls and ids included."""
    content = message.get("content")
    tokens = MESSAGE_OVERHEAD
    tokens += estimate_json(content) if message["role"] == "tool" else estimate_text(content)
    if len(message) == 2:  # role and content only: the common case, nothing more to count
        return tokens
    for call in message.get("tool_calls") or ():
        function = call["function"]
        tokens += estimate_text(call["id"]) + estimate_text(function.get("name"))
        tokens += estimate_json(function.get("arguments"))
    return tokens + estimate_text(message.get("tool_call_id"))


def estimate_messages(messages: Iterable[Message]) -> int:
    """Tokens a list of chat messages is estimated to take."""
    return sum(map(estimate_message, messages))


def estimate_tools(tools: list[ToolSpec]) -> int:
    """Tokens the offered tools' schemas are estimated to take."""
    return estimate_json(orjson.dumps(tools).decode()) if tools else 0
