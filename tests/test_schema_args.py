"""Arguments from a tool's JSON schema (app/llm/schema_args.py): pure, deterministic, valid."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from app.chat.tools import Tool
from app.llm.schema_args import EXAMPLE_TEXT, example_arguments


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    number: int
    flat: str | None = None


class Node(BaseModel):
    label: str
    children: list[Node]


def book(
    title: str,
    copies: int,
    price: float,
    signed: bool,
    colour: Colour,
    size: Literal["small", "large"],
    tags: list[str],
    address: Address,
    rating: Annotated[int, Field(ge=1, le=5)],
    code: Annotated[str, Field(min_length=10, max_length=12)],
    note: str = "none",
    gift: bool | None = None,
) -> str:
    """Book something with every kind of argument."""
    return title


def tree(root: Node) -> str:
    """Take a recursive structure."""
    return root.label


def test_arguments_fill_every_required_property_of_a_real_tool_schema_and_validate() -> None:
    tool = Tool.from_function(book)
    arguments = example_arguments(tool.spec["function"]["parameters"])
    assert arguments == {
        "title": EXAMPLE_TEXT,
        "copies": 0,
        "price": 0.0,
        "signed": False,
        "colour": "red",
        "size": "small",
        "tags": [EXAMPLE_TEXT],
        "address": {"street": EXAMPLE_TEXT, "number": 0},
        "rating": 1,
        "code": (EXAMPLE_TEXT * 2)[:10],
    }
    tool.arguments.model_validate(arguments)


def test_a_recursive_schema_ends() -> None:
    tool = Tool.from_function(tree)
    arguments = example_arguments(tool.spec["function"]["parameters"])
    assert arguments["root"]["label"] == EXAMPLE_TEXT
    assert isinstance(arguments["root"]["children"], list)


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "string", "default": "Oslo"}, "Oslo"),
        ({"type": "string", "examples": ["Lima", "Quito"]}, "Lima"),
        ({"const": 7}, 7),
        ({"enum": ["b", "a"]}, "b"),
        ({"type": "string", "format": "date"}, "2026-01-01"),
        ({"type": "string", "format": "email"}, "user@example.com"),
        ({"type": "string", "maxLength": 3}, EXAMPLE_TEXT[:3]),
        ({"type": "integer", "minimum": 3, "maximum": 9}, 3),
        ({"type": "integer", "maximum": -2}, -2),
        ({"type": "integer", "exclusiveMinimum": 0}, 1),
        ({"type": "number", "minimum": 0.5}, 0.5),
        ({"type": "integer", "minimum": 3, "multipleOf": 5}, 5),
        ({"type": "boolean"}, False),
        ({"type": "null"}, None),
        ({"type": ["null", "integer"]}, 0),
        ({"anyOf": [{"type": "null"}, {"type": "boolean"}]}, False),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 3}, [0, 0, 0]),
        ({"type": "array", "items": {"type": "integer"}, "maxItems": 0}, []),
        (
            {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
            ["example", 0],
        ),
        ({"properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"a": 0}),
        ({}, EXAMPLE_TEXT),
    ],
)
def test_each_keyword_gives_a_value_that_fits(schema: dict[str, Any], value: Any) -> None:
    parameters = {"type": "object", "properties": {"x": schema}, "required": ["x"]}
    assert example_arguments(parameters) == {"x": value}


def test_optional_properties_are_left_to_their_defaults() -> None:
    parameters = {"type": "object", "properties": {"x": {"type": "string"}}, "required": []}
    assert example_arguments(parameters) == {}
    assert example_arguments(None) == {}


def test_refs_and_all_of_are_resolved() -> None:
    parameters = {
        "type": "object",
        "properties": {"p": {"allOf": [{"$ref": "#/$defs/P"}], "description": "a point"}},
        "required": ["p"],
        "$defs": {
            "P": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
        },
    }
    assert example_arguments(parameters) == {"p": {"x": 0.0}}


def test_the_same_schema_always_gives_the_same_arguments() -> None:
    parameters = Tool.from_function(book).spec["function"]["parameters"]
    assert example_arguments(parameters) == example_arguments(parameters)
