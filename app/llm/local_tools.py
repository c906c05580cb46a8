"""Which offered tools the offline provider calls, with what arguments, and how it tells results.

Like pydantic-ai's TestModel it can call any offered tool, with arguments built from the tool's
JSON schema (schema_args.py). It calls a tool when the last user message asks for it by name
("call get_weather", "use the tool `search`", optionally followed by a JSON object of arguments),
"call all tools" calls every offered tool, and the demo rules (local_demo.py) add the friendly
time and stock questions when those tools are offered. Pure: no I/O, deterministic.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Any

from app.llm.base import Message, ToolCallRequest, ToolSpec
from app.llm.local_demo import DEMO_RULES, DESCRIBERS
from app.llm.schema_args import example_arguments

_VERB = r"\b(?:call|use|run|invoke|try)\s+(?:the\s+)?"
_ALL_TOOLS = re.compile(
    _VERB + r"(?:all|every|each)\s+(?:of\s+the\s+)?(?:tools?|functions?)\b", re.IGNORECASE
)


def plan_tool_calls(messages: list[Message], tools: list[ToolSpec]) -> list[ToolCallRequest]:
    """The tool calls the last user message asks for, among the offered tools."""
    if not messages or messages[-1]["role"] != "user":
        return []
    text = messages[-1]["content"] or ""
    schemas = {
        str(spec["function"]["name"]): spec["function"].get("parameters") or {}
        for spec in tools
        if spec["function"].get("name")
    }
    planned: dict[str, dict[str, Any]] = {}
    for name, rule in DEMO_RULES.items():
        hints = rule(text) if name in schemas else None
        if hints is not None:
            planned[name] = _arguments(schemas[name], hints)
    for name, given in _named_tools(text, list(schemas)):
        # Arguments written in the message win over the ones a demo rule guessed.
        if name not in planned or given:
            planned[name] = _arguments(schemas[name], given)
    return [ToolCallRequest(_call_id(messages, name, a), name, a) for name, a in planned.items()]


def _named_tools(text: str, names: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """The offered tools the text asks to call by name, in its order, with any JSON arguments."""
    if not names:
        return []
    if _ALL_TOOLS.search(text):
        return [(name, {}) for name in names]
    by_lower = {name.lower(): name for name in names}
    found: list[tuple[str, dict[str, Any]]] = []
    for match in _naming(tuple(names)).finditer(text):
        found.append((by_lower[match.group(1).lower()], _json_after(text, match.end())))
    return found


@lru_cache(maxsize=64)
def _naming(names: tuple[str, ...]) -> re.Pattern[str]:
    """The pattern of a request to call one of `names` (built once per set of offered tools)."""
    # Longest first, so "search_all" is not read as "search".
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(
        _VERB + rf"(?:(?:tool|function)\s+)?[`'\"]?({alternatives})(?![\w-])[`'\"]?"
        r"(?:\s+(?:tool|function))?",
        re.IGNORECASE,
    )


def _json_after(text: str, position: int) -> dict[str, Any]:
    """A JSON object right after a tool's name ("… with {"city": "Oslo"}"), else nothing."""
    rest = re.match(r"\s*(?:with\s+|:\s*)?(?=\{)", text[position:])
    if rest is None:
        return {}
    try:
        value, _ = json.JSONDecoder().raw_decode(text, position + rest.end())
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _arguments(parameters: dict[str, Any], hints: dict[str, Any]) -> dict[str, Any]:
    """The schema's example arguments, overlaid with the hints the schema knows of."""
    properties = parameters.get("properties")
    known = hints if properties is None else {k: v for k, v in hints.items() if k in properties}
    return {**example_arguments(parameters), **known}


def describe_tool_results(messages: list[Message]) -> str:
    """One sentence per trailing tool result, in the order the tools were called."""
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls", []):
            names[call["id"]] = call["function"].get("name", "")
    results = []
    for message in reversed(messages):
        if message["role"] != "tool":
            break
        results.append(message)
    question = next((m["content"] or "" for m in reversed(messages) if m["role"] == "user"), "")
    sentences = []
    for message in reversed(results):
        name = message.get("name") or names.get(message.get("tool_call_id", ""), "")
        result = _parse_result(message["content"])
        describe = DESCRIBERS.get(name)
        told = describe(result, question) if describe else None
        sentences.append(told or _describe_any(result, name))
    return " ".join(sentences)


def _describe_any(result: Any, name: str) -> str:
    tool = name or "tool"
    if isinstance(result, dict) and set(result) == {"error"}:
        return f"The {tool} tool failed: {result['error']}."
    return f"The {tool} tool returned: {shorten(json.dumps(result, default=str), 40)}."


def _parse_result(content: str | None) -> Any:
    try:
        return json.loads(content or "null")
    except json.JSONDecodeError:
        return content


def shorten(text: str, words: int) -> str:
    """The first `words` words of the text, with an ellipsis when some were cut."""
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def _call_id(messages: list[Message], name: str, arguments: dict[str, Any]) -> str:
    # The position in the conversation keeps ids unique when the same question comes twice.
    seed = (
        f"{len(messages)}|{name}|{json.dumps(arguments, sort_keys=True)}|{messages[-1]['content']}"
    )
    return "call_" + hashlib.sha256(seed.encode()).hexdigest()[:16]
