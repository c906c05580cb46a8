"""The tool registry: schemas from signatures, validated runs that never raise, the demo tools."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.chat.demo_tools import check_inventory, default_registry
from app.chat.tools import ToolError, ToolRegistry


def add(a: int, b: int = 2, label: str | None = None) -> dict[str, Any]:
    """Add two numbers.

    The rest of the docstring is not part of the description.
    """
    return {"sum": a + b, "label": label}


async def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


def broken(reason: str) -> None:
    """Always fails."""
    raise RuntimeError(reason)


def refuse() -> None:
    """Refuses politely."""
    raise ToolError("not today")


def not_json() -> object:
    """Returns something that cannot be sent."""
    return object()


def registry_with(*functions: Any) -> ToolRegistry:
    registry = ToolRegistry()
    for function in functions:
        registry.register(function)
    return registry


def test_a_registered_function_gets_an_openai_schema_from_its_signature() -> None:
    [spec] = registry_with(add).specs()
    assert spec["type"] == "function"
    function = spec["function"]
    assert function["name"] == "add"
    assert function["description"] == "Add two numbers."
    parameters = function["parameters"]
    assert parameters["type"] == "object"
    assert parameters["required"] == ["a"]
    assert parameters["properties"]["a"]["type"] == "integer"
    assert parameters["properties"]["b"] == {"type": "integer", "default": 2}
    # An optional `str | None = None` is a plain optional string for the model.
    assert parameters["properties"]["label"] == {"type": "string"}


def test_the_default_registry_offers_the_two_demo_tools() -> None:
    specs = {spec["function"]["name"]: spec["function"] for spec in default_registry().specs()}
    assert set(specs) == {"get_current_time", "check_inventory"}
    assert specs["get_current_time"]["parameters"]["required"] == []
    assert specs["get_current_time"]["parameters"]["properties"]["timezone"]["type"] == "string"
    assert specs["check_inventory"]["parameters"]["required"] == ["item"]
    assert all(spec["description"] for spec in specs.values())
    json.dumps(list(specs.values()))


async def test_running_a_tool_validates_and_converts_the_arguments() -> None:
    result = await registry_with(add).run("add", {"a": "40", "label": "x"})
    assert result == {"sum": 42, "label": "x"}


async def test_async_tools_are_awaited() -> None:
    assert await registry_with(shout).run("shout", {"text": "hi"}) == "HI"


async def test_an_unknown_tool_gives_an_error_result() -> None:
    result = await registry_with(add).run("subtract", {"a": 1})
    assert "subtract" in result["error"]


async def test_bad_arguments_give_an_error_result_naming_the_field() -> None:
    result = await registry_with(add).run("add", {"a": "many"})
    assert "a:" in result["error"]
    missing = await registry_with(add).run("add", {})
    assert "a:" in missing["error"]


async def test_a_tool_that_raises_gives_an_error_result() -> None:
    result = await registry_with(broken).run("broken", {"reason": "disk on fire"})
    assert "disk on fire" in result["error"]


async def test_a_tool_error_message_is_passed_on_as_it_is() -> None:
    assert await registry_with(refuse).run("refuse", {}) == {"error": "not today"}


async def test_a_tool_returning_something_that_is_not_json_gives_an_error_result() -> None:
    result = await registry_with(not_json).run("not_json", {})
    assert "error" in result


async def test_current_time_defaults_to_utc() -> None:
    result = await default_registry().run("get_current_time", {})
    assert result["timezone"] == "UTC"
    assert result["utc_offset"] == "+00:00"
    assert result["iso"].startswith(result["date"])
    assert result["time"] in result["iso"]
    assert result["weekday"] in {
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
    }  # fmt: skip


async def test_current_time_uses_the_requested_timezone() -> None:
    result = await default_registry().run("get_current_time", {"timezone": "Asia/Tokyo"})
    assert result["timezone"] == "Asia/Tokyo"
    assert result["utc_offset"] == "+09:00"


async def test_an_unknown_timezone_gives_an_error_result() -> None:
    result = await default_registry().run("get_current_time", {"timezone": "Mars/Olympus"})
    assert "Mars/Olympus" in result["error"]


@pytest.mark.parametrize(
    ("asked", "sku"),
    [
        ("mouse", "MS-100"),
        ("mice", "MS-100"),
        ("Wireless Mice", "MS-100"),
        ("KEYBOARDS", "KB-200"),
        ("usb-c cables", "CB-USBC"),
        ("the webcam", "WC-1080"),
        ("laptops", "LT-140"),
        ("laptop stands", "LS-010"),
        ("mouse pads", "MP-XL"),
    ],
)
def test_inventory_matches_forgivingly(asked: str, sku: str) -> None:
    result = check_inventory(asked)
    assert result["found"] is True
    assert result["sku"] == sku
    assert result["item"] == asked


def test_inventory_reports_quantity_price_and_stock() -> None:
    mouse = check_inventory("mouse")
    assert mouse["in_stock"] is True
    assert mouse["quantity"] > 0
    assert mouse["price"] > 0
    webcam = check_inventory("webcam")
    assert webcam["in_stock"] is False
    assert webcam["quantity"] == 0


def test_an_unknown_item_lists_the_known_ones() -> None:
    result = check_inventory("unicorns")
    assert result["found"] is False
    assert result["item"] == "unicorns"
    assert "wireless mouse" in result["known_items"]
    assert len(result["known_items"]) >= 12


async def test_an_empty_item_is_refused() -> None:
    result = await default_registry().run("check_inventory", {"item": ""})
    assert "item" in result["error"]
