"""The demo tools the service offers by default: get_current_time, and check_inventory with its
office inventory (inventory.json). The `TOOLS` setting names which of `DEMO_TOOLS` are offered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from app.chat.tools import ToolError, ToolRegistry, build_registry

INVENTORY_PATH = Path(__file__).with_name("inventory.json")


def get_current_time(
    timezone: Annotated[
        str | None, Field(description="An IANA timezone such as Europe/Paris; default UTC.")
    ] = None,
) -> dict[str, str]:
    """Get the current date and time in a timezone."""
    name = (timezone or "UTC").strip() or "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ToolError(
            f"unknown timezone '{name}'; use an IANA name such as Europe/Paris"
        ) from exc
    now = datetime.now(zone)
    iso = now.isoformat(timespec="seconds")
    return {
        "timezone": name,
        "iso": iso,
        "time": now.strftime("%H:%M"),
        "date": now.date().isoformat(),
        "weekday": now.strftime("%A"),
        # The ISO offset ("+01:00"); strftime's %:z needs Python 3.12.
        "utc_offset": iso[19:],
    }


def check_inventory(
    item: Annotated[str, Field(min_length=1, description="The item to look up, e.g. 'mouse'.")],
) -> dict[str, Any]:
    """Check whether an item is in stock in the office inventory, with quantity and price."""
    entry = _find_item(item)
    if entry is None:
        known = [str(e["name"]) for e in _inventory()]
        return {"item": item, "found": False, "known_items": known}
    quantity = int(entry["quantity"])
    return {
        "item": item,
        "found": True,
        "sku": entry["sku"],
        "name": entry["name"],
        "in_stock": quantity > 0,
        "quantity": quantity,
        "price": entry["price"],
        "currency": entry["currency"],
    }


@cache
def _inventory() -> tuple[dict[str, Any], ...]:
    # Read once: the inventory is shipped data, not a database.
    return tuple(json.loads(INVENTORY_PATH.read_text(encoding="utf-8"))["items"])


def _find_item(query: str) -> dict[str, Any] | None:
    """The entry whose name or alias best matches the query, ignoring case and plurals."""
    wanted = normalize_item(query)
    if not wanted:
        return None
    best: tuple[int, dict[str, Any]] | None = None
    for entry in _inventory():
        for alias in [entry["name"], *entry.get("aliases", [])]:
            key = normalize_item(alias)
            if key == wanted:
                return entry
            # The longest alias inside the query wins ("wireless mouse pad" → mouse pad).
            if f" {key} " in f" {wanted} " and (best is None or len(key) > best[0]):
                best = (len(key), entry)
    return best[1] if best else None


_IRREGULAR = {"mice": "mouse", "indices": "index", "people": "person", "feet": "foot"}
_STOP_WORDS = {"a", "an", "the", "any", "some", "of", "our", "your", "more"}


def normalize_item(text: str) -> str:
    """Lower-case, singular, punctuation-free words: 'Wireless Mice!' → 'wireless mouse'."""
    words = re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
    return " ".join(_singular(word) for word in words if word not in _STOP_WORDS)


def _singular(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


# The tools a `TOOLS` setting may name, by name (the function's own name, which the model sees).
DEMO_TOOLS: dict[str, Callable[..., Any]] = {
    "get_current_time": get_current_time,
    "check_inventory": check_inventory,
}


def default_registry() -> ToolRegistry:
    """A registry with every demo tool, as the default `TOOLS` offers them."""
    return build_registry(DEMO_TOOLS.values())
