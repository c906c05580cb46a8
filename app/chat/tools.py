"""A small tool registry: typed functions whose JSON schemas come from their signatures."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, create_model
from pydantic_core import PydanticSerializationError, to_jsonable_python

from app.llm.base import ToolSpec

INVENTORY_PATH = Path(__file__).with_name("inventory.json")
ToolFunction = TypeVar("ToolFunction", bound=Callable[..., Any])


class ToolError(Exception):
    """A tool's readable refusal; its message becomes the `error` of the result."""


@dataclass(frozen=True, slots=True)
class Tool:
    """A registered function, the pydantic model validating its arguments, and its schema."""

    name: str
    function: Callable[..., Any]
    arguments: type[BaseModel]
    spec: ToolSpec

    @classmethod
    def from_function(cls, function: Callable[..., Any]) -> Tool:
        """Derive the tool's name, argument model and OpenAI schema from its signature."""
        hints = get_type_hints(function, include_extras=True)
        fields: dict[str, Any] = {}
        for param in inspect.signature(function).parameters.values():
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[param.name] = (hints.get(param.name, Any), default)
        model = create_model(f"{function.__name__}_arguments", **fields)
        summary = inspect.cleandoc(function.__doc__ or function.__name__).split("\n\n")[0]
        description = " ".join(summary.split())
        function_schema = {"name": function.__name__, "description": description}
        spec: ToolSpec = {
            "type": "function",
            "function": {**function_schema, "parameters": _parameters(model)},
        }
        return cls(function.__name__, function, model, spec)


class ToolRegistry:
    """Tools by name; `run` validates arguments and turns every failure into an error result."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(self, function: ToolFunction) -> ToolFunction:
        """Add a typed, documented function as a tool (usable as a decorator)."""
        tool = Tool.from_function(function)
        self._tools[tool.name] = tool
        return function

    def specs(self) -> list[ToolSpec]:
        """The schemas of every tool, for the model."""
        return [tool.spec for tool in self._tools.values()]

    async def run(self, name: str, arguments: dict[str, Any]) -> Any:
        """Call a tool and return its JSON-able result, or `{"error": ...}`; never raises."""
        tool = self._tools.get(name)
        if tool is None:
            return {"error": f"unknown tool '{name}'; available: {', '.join(self._tools)}"}
        try:
            validated = tool.arguments.model_validate(arguments)
        except ValidationError as exc:
            return {"error": f"invalid arguments for '{name}': {_describe(exc)}"}
        kwargs = {key: getattr(validated, key) for key in type(validated).model_fields}
        try:
            result = tool.function(**kwargs)
            if inspect.isawaitable(result):
                result = await result
            return to_jsonable_python(result)
        except ToolError as exc:
            return {"error": str(exc)}
        except PydanticSerializationError:
            return {"error": f"tool '{name}' returned a value that is not JSON"}
        except Exception as exc:  # noqa: BLE001 (a tool's bug must not end the conversation)
            return {"error": f"tool '{name}' failed: {type(exc).__name__}: {exc}"}


def _parameters(model: type[BaseModel]) -> dict[str, Any]:
    """The arguments' JSON schema, no titles; `X | None = None` becomes an optional X."""
    schema = model.model_json_schema()
    properties: dict[str, Any] = {}
    for key, prop in schema.get("properties", {}).items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        branches = prop.get("anyOf", [])
        non_null = [b for b in branches if b != {"type": "null"}]
        # Some OpenAI-compatible servers reject `anyOf` with null; absent means None anyway.
        if len(branches) == 2 and len(non_null) == 1 and prop.get("default", 0) is None:
            rest = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
            prop = {**non_null[0], **rest}
        properties[key] = prop
    parameters = {
        "type": "object",
        "properties": properties,
        "required": schema.get("required", []),
    }
    if "$defs" in schema:
        parameters["$defs"] = schema["$defs"]
    return parameters


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


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


def default_registry() -> ToolRegistry:
    """A registry with the two demo tools: get_current_time and check_inventory."""
    registry = ToolRegistry()
    registry.register(get_current_time)
    registry.register(check_inventory)
    return registry
