"""The offline provider's two friendly demo rules, used only when those tools are offered.

A time question calls `get_current_time` (with the timezone of a named city), a stock question
calls `check_inventory` (with the item as written); their results are told back in a sentence.
Any other tool is called through the generic rules in local_tools.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

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


def _describe_time(result: Any, question: str) -> str | None:
    if not isinstance(result, dict) or "time" not in result:
        return f"I could not read the clock: {_error_of(result)}." if _failed(result) else None
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


def _describe_stock(result: Any, question: str) -> str | None:
    if not isinstance(result, dict) or "found" not in result:
        return f"I could not check the inventory: {_error_of(result)}." if _failed(result) else None
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


def _time_hints(text: str) -> dict[str, Any] | None:
    if not asks_for_time(text):
        return None
    zone = find_timezone(text)
    return {"timezone": zone} if zone else {}


def _stock_hints(text: str) -> dict[str, Any] | None:
    item = find_stock_item(text)
    return {"item": item} if item else None


def _failed(result: Any) -> bool:
    # Another result shape (a tool of the same name that is not the demo one) is told generically.
    return isinstance(result, dict) and "error" in result


def _error_of(result: Any) -> str:
    if isinstance(result, dict) and "error" in result:
        return str(result["error"])
    return "the tool gave no usable answer"


# A demo tool's name → the arguments a message implies for it (None: the message does not ask).
DEMO_RULES: dict[str, Callable[[str], dict[str, Any] | None]] = {
    "get_current_time": _time_hints,
    "check_inventory": _stock_hints,
}
# A demo tool's name → the sentence telling its result (None: not the demo tool's shape).
DESCRIBERS: dict[str, Callable[[Any, str], str | None]] = {
    "get_current_time": _describe_time,
    "check_inventory": _describe_stock,
}
