"""Pure rules of the offline provider: intents, tool-call plans, replies, tool-result sentences."""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

from app.llm.base import Message, ToolCallRequest

_TIME_QUESTION = re.compile(
    r"\bwhat(?:'s|’s|\s+is)?\s+(?:the\s+)?(?:current\s+|local\s+)?(?:time|date|day)\b"
    r"(?!\s+(?:complexity|zone|frame|limit))"
    r"|\btime\s+is\s+it\b|\b(?:current|local)\s+(?:time|date)\b|\btoday'?s\s+date\b"
    r"|\bdate\s+today\b|\btell\s+me\s+the\s+(?:time|date)\b|^\s*(?:the\s+)?(?:time|date)\s*\??\s*$",
    re.IGNORECASE,
)
# "time in Tokyo?" is a question only when asked as one ("I had a good time in Tokyo").
_TIME_IN = re.compile(r"\btime\s+(?:now|right\s+now|in|at)\b.*\?\s*$", re.IGNORECASE)
_IANA_ZONE = re.compile(r"\b([A-Z][A-Za-z_]+/[A-Z][A-Za-z_]+(?:/[A-Z][A-Za-z_]+)?)\b")
_CITY_ZONES = {
    "tokyo": "Asia/Tokyo", "japan": "Asia/Tokyo", "seoul": "Asia/Seoul",
    "beijing": "Asia/Shanghai", "shanghai": "Asia/Shanghai", "hong kong": "Asia/Hong_Kong",
    "singapore": "Asia/Singapore", "mumbai": "Asia/Kolkata", "delhi": "Asia/Kolkata",
    "india": "Asia/Kolkata", "dubai": "Asia/Dubai", "moscow": "Europe/Moscow",
    "paris": "Europe/Paris", "france": "Europe/Paris", "berlin": "Europe/Berlin",
    "madrid": "Europe/Madrid", "rome": "Europe/Rome", "amsterdam": "Europe/Amsterdam",
    "london": "Europe/London", "new york": "America/New_York", "nyc": "America/New_York",
    "toronto": "America/Toronto", "chicago": "America/Chicago", "denver": "America/Denver",
    "los angeles": "America/Los_Angeles", "san francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles", "mexico city": "America/Mexico_City",
    "sao paulo": "America/Sao_Paulo", "são paulo": "America/Sao_Paulo",
    "sydney": "Australia/Sydney", "cairo": "Africa/Cairo", "utc": "UTC", "gmt": "GMT",
}  # fmt: skip
_STOCK_QUESTIONS = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        (
            r"\b(?:do|does|did)\s+(?:we|you|they)\s+(?:still\s+)?(?:have|stock|carry|sell)\s+"
            r"(?P<item>.+?)\s+(?:in\s+stock|available|left|on\s+hand|in\s+the\s+inventory)\b"
        ),
        (
            r"\b(?:is|are)\s+(?:there\s+)?(?P<item>.+?)\s+(?:still\s+)?"
            r"(?:in\s+stock|available|out\s+of\s+stock|on\s+hand)\b"
        ),
        (
            r"\b(?:check|look\s+up|search)\s+(?:the\s+)?(?:inventory|stock)\s+(?:for|of|on)\s+"
            r"(?P<item>[^?.!,;]+)"
        ),
        (
            r"\bhow\s+many\s+(?P<item>.+?)\s+(?:do\s+we\s+have|are\s+(?:there\s+)?"
            r"(?:left|in\s+stock|available)|in\s+stock)\b"
        ),
        r"\b(?:stock|inventory)\s+(?:level\s+)?(?:of|for)\s+(?P<item>[^?.!,;]+)",
        r"^\s*(?:any\s+)?(?P<item>[^?.!,;]+?)\s+in\s+stock\b",
    )
]
_DETERMINERS = re.compile(r"^(?:(?:any|some|the|a|an|our|more|of)\s+)+", re.IGNORECASE)
_PRONOUNS = {"it", "this", "that", "they", "them", "you", "he", "she", "we", "i", "one"}
_STOP_TEXT = (
    "a an the and or but if then so to of in on at by for with from about as into over is "
    "are was were be been being am do does did doing have has had i me my you your we our "
    "us he she it its they them their this that these those what which who whom whose why "
    "how when where can could would should will shall may might must please tell explain "
    "know think want like just really very some any all more most there here not no yes ok "
    "okay also too than"
)
_STOP_WORDS = frozenset(_STOP_TEXT.split())


def split_words(text: str) -> list[str]:
    """Word-sized pieces, each with its leading space, that join back to exactly `text`."""
    return re.findall(r"\s*\S+", text)


def plan_tool_calls(messages: list[Message], offered: set[str | None]) -> list[ToolCallRequest]:
    """The tool calls the last user message asks for, among the offered tools."""
    if not messages or messages[-1]["role"] != "user":
        return []
    text = messages[-1]["content"] or ""
    planned: list[tuple[str, dict[str, Any]]] = []
    if "get_current_time" in offered and asks_for_time(text):
        zone = find_timezone(text)
        planned.append(("get_current_time", {"timezone": zone} if zone else {}))
    item = find_stock_item(text) if "check_inventory" in offered else None
    if item:
        planned.append(("check_inventory", {"item": item}))
    return [ToolCallRequest(_call_id(messages, name, args), name, args) for name, args in planned]


def asks_for_time(text: str) -> bool:
    """Whether a message asks for the current time or date."""
    return bool(_TIME_QUESTION.search(text) or _TIME_IN.search(text))


def find_timezone(text: str) -> str | None:
    """An IANA timezone named in the text, directly or through a well-known city."""
    explicit = _IANA_ZONE.search(text)
    if explicit:
        return explicit.group(1)
    lowered = text.lower()
    found = [
        (match.start(), zone)
        for city, zone in _CITY_ZONES.items()
        if (match := re.search(rf"\b{re.escape(city)}\b", lowered))
    ]
    return min(found)[1] if found else None


def find_stock_item(text: str) -> str | None:
    """The item a message asks about being in stock, as the user wrote it."""
    for pattern in _STOCK_QUESTIONS:
        match = pattern.search(text)
        if match is None:
            continue
        item = _DETERMINERS.sub("", match.group("item").strip(" \t'\"")).strip()
        if item and item.lower() not in _PRONOUNS and len(item.split()) <= 5:
            return item
    return None


def compose_answer(messages: list[Message]) -> str:
    """The whole deterministic answer to the conversation so far."""
    if messages and messages[-1]["role"] == "tool":
        return describe_tool_results(messages)
    users = [m["content"] or "" for m in messages if m["role"] == "user"]
    text = users[-1].strip() if users else ""
    earlier = users[:-1]
    reply = _reply_to(text, earlier)
    if earlier and not _REMEMBER.search(text):
        turns = "turn" if len(earlier) == 1 else "turns"
        reply += f" I remember {len(earlier)} earlier {turns} of this conversation."
    return reply


_GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|howdy|greetings|good\s+(?:morning|afternoon|evening))\b", re.IGNORECASE
)
_THANKS = re.compile(r"\b(?:thanks|thank\s+you|thx|cheers|much\s+appreciated)\b", re.IGNORECASE)
_GOODBYE = re.compile(r"\b(?:bye|goodbye|see\s+you|good\s+night|farewell)\b", re.IGNORECASE)
_HELP = re.compile(
    r"\b(?:help|what\s+can\s+you\s+do|who\s+are\s+you|what\s+are\s+you|how\s+do\s+you\s+work)\b",
    re.IGNORECASE,
)
_REMEMBER = re.compile(
    r"\b(?:what\s+did\s+i\s+(?:say|ask|tell)|do\s+you\s+remember|earlier|previous(?:ly)?)\b",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"\?\s*$|^\W*(?:what|why|how|when|where|who|which|can|could|should|would|is|are|do|does)\b",
    re.IGNORECASE,
)


def _reply_to(text: str, earlier: list[str]) -> str:
    words = text.split()
    if not words:
        return _HELP_REPLY
    if len(words) > 80:
        return _LONG_REPLY.format(count=len(words), themes=_themes(text))
    if _REMEMBER.search(text):
        return _recall(earlier)
    if asks_for_time(text):
        return _MISSING_TOOL.format(tool="get_current_time", action="read the clock")
    if find_stock_item(text):
        return _MISSING_TOOL.format(tool="check_inventory", action="check the inventory")
    for pattern, reply in ((_HELP, _HELP_REPLY), (_THANKS, _THANKS_REPLY), (_GOODBYE, _BYE_REPLY)):
        if pattern.search(text):
            return reply
    if _GREETING.search(text):
        return _GREETING_REPLY
    variants = _QUESTION_REPLIES if _QUESTION.search(text) else _STATEMENT_REPLIES
    choice = variants[zlib.crc32(text.encode()) % len(variants)]
    return choice.format(topic=_topic(text), snippet=_shorten(text.rstrip(".!?…"), 8))


def _recall(earlier: list[str]) -> str:
    if not earlier:
        return _NOTHING_TO_RECALL
    quoted = [f'"{_shorten(text, 8)}"' for text in earlier[:3]]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"
    more = f" (and {len(earlier) - 3} more)" if len(earlier) > 3 else ""
    return _RECALL_REPLY.format(count=len(earlier), listed=listed, more=more)


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
        describe = _DESCRIBERS.get(name, _describe_other)
        sentences.append(describe(_parse_result(message["content"]), name, question))
    return " ".join(sentences)


def _describe_time(result: Any, name: str, question: str) -> str:
    if not isinstance(result, dict) or "time" not in result:
        return f"I could not read the clock: {_error_of(result)}."
    zone = result.get("timezone", "UTC")
    where = zone if zone in ("UTC", "GMT") else f"in {zone}"
    try:
        day = date.fromisoformat(str(result.get("date")))
        when = f"{result.get('weekday', day.strftime('%A'))}, {day.day} {day:%B} {day.year}"
    except ValueError:
        when = str(result.get("date", "today"))
    if re.search(r"\b(?:date|day)\b", question, re.IGNORECASE):
        return f"Today is {when}; it is {result['time']} {where}."
    return f"It is {result['time']} {where} on {when}."


def _describe_stock(result: Any, name: str, question: str) -> str:
    if not isinstance(result, dict) or "found" not in result:
        return f"I could not check the inventory: {_error_of(result)}."
    if not result["found"]:
        known = ", ".join(str(item) for item in result.get("known_items", []))
        return f'I could not find "{result.get("item")}" in the inventory. We stock: {known}.'
    price = result.get("price")
    cost = f"${price:.2f}" if isinstance(price, int | float) else str(price)
    if result.get("in_stock"):
        return (
            f"Yes, the {result['name']} is in stock: {result['quantity']} available "
            f"at {cost} each (SKU {result.get('sku')})."
        )
    sku = result.get("sku")
    return f"Sorry, the {result['name']} is out of stock right now (SKU {sku}, usually {cost})."


def _describe_other(result: Any, name: str, question: str) -> str:
    return f"The {name or 'tool'} returned: {_shorten(json.dumps(result, default=str), 40)}."


_DESCRIBERS: dict[str, Callable[[Any, str, str], str]] = {
    "get_current_time": _describe_time,
    "check_inventory": _describe_stock,
}


def _parse_result(content: str | None) -> Any:
    try:
        return json.loads(content or "null")
    except json.JSONDecodeError:
        return content


def _error_of(result: Any) -> str:
    if isinstance(result, dict) and "error" in result:
        return str(result["error"])
    return "the tool gave no usable answer"


def _topic(text: str) -> str:
    words = [w.strip("'’-") for w in re.findall(r"[\w'’-]+", text)]
    kept = [w for w in words if w and w.lower() not in _STOP_WORDS]
    return " ".join(dict.fromkeys(kept[:5])) or "that"


def _themes(text: str) -> str:
    words = [w.lower() for w in re.findall(r"[A-Za-z][\w'-]{3,}", text)]
    common = Counter(w for w in words if w not in _STOP_WORDS).most_common(4)
    return ", ".join(f'"{word}"' for word, _ in common) or "hard to pin down"


def _shorten(text: str, words: int) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def _call_id(messages: list[Message], name: str, arguments: dict[str, Any]) -> str:
    # The position in the conversation keeps ids unique when the same question comes twice.
    seed = (
        f"{len(messages)}|{name}|{json.dumps(arguments, sort_keys=True)}|{messages[-1]['content']}"
    )
    return "call_" + hashlib.sha256(seed.encode()).hexdigest()[:16]


_GREETING_REPLY = (
    "Hello! I am the local assistant of this demo. I run offline and answer deterministically, "
    "and I can call two tools: one tells the current time in any timezone, the other checks the "
    'office inventory. Try asking "What time is it in Tokyo?" or "Do we have any mice in stock?"'
)
_HELP_REPLY = (
    "Here is what I can do. I am an offline, deterministic demo model: I answer ordinary messages "
    "with simple rules, and I call two tools when they help. Ask for the time, optionally in a "
    "city such as Paris or New York, or ask whether an item like keyboards, webcams or monitors "
    "is in stock."
)
_THANKS_REPLY = (
    "You're welcome, I'm glad that helped! If there is anything else, just ask: I can tell you the "
    "current time in a city, check whether an item such as a monitor or a headset is in stock, or "
    "simply keep the conversation going with another question."
)
_BYE_REPLY = (
    "Goodbye, and thanks for the conversation! When you disconnect, this session is closed and a "
    "short summary of it is saved, so you can come back later with the same session id and pick up "
    "where we left off. Have a good day."
)
_LONG_REPLY = (
    "That is a long message of {count} words, thank you. The main themes I can pick out are "
    "{themes}. I am the offline demo model, so I cannot analyse it in depth, but it is stored with "
    "the conversation, and you can ask me about any single part of it in a shorter message."
)
_RECALL_REPLY = (
    "Earlier in this conversation you sent {count} messages: {listed}{more}. I keep every turn of "
    "the session, also after a reconnect, so you can refer back to any of them and I take them "
    "into account when I answer."
)
_NOTHING_TO_RECALL = (
    "This is the first message of our conversation, so there is nothing earlier for me to "
    "remember yet. Every turn you send is stored with the session, and when you reconnect later "
    "with the same session id I will see the whole history again."
)
_MISSING_TOOL = (
    "I would normally call the {tool} tool to answer that, but it is not offered in this "
    "conversation, so I cannot {action} right now. Everything else still works: ask me a "
    "question or say hello, and I will reply from my simple offline rules."
)
_QUESTION_REPLIES = (
    (
        'Good question about "{topic}". I am the offline demo model, so I answer from simple rules '
        "rather than real knowledge. I cannot look this up, but a reliable approach is to break it "
        "into smaller parts, check a trusted source for each, and compare what you find."
    ),
    (
        'You asked about "{topic}". As the local model I run without a network, so take this as a '
        "starting point rather than an answer: write down what you already know, list what is "
        "still unclear, and try the smallest step that would tell you more."
    ),
)
_STATEMENT_REPLIES = (
    (
        'Thanks for telling me about "{topic}". I have noted it for this conversation. I am the '
        "local demo model and reply with simple rules, but I can still help: ask me a question, "
        "ask what time it is somewhere, or ask whether an item is in stock."
    ),
    (
        'Noted: "{snippet}". I am the offline assistant of this demo, so my replies come from a '
        "few deterministic rules. For something concrete, ask what time it is in a city such as "
        "Tokyo, or whether we have an item like keyboards or webcams in stock."
    ),
)
