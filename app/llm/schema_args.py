"""Arguments for any tool, built from its JSON schema, the way pydantic-ai's TestModel does.

Deterministic and pure: the same schema always gives the same arguments. Only required
properties are filled (an optional one is better left to its default); a value the schema
gives (`const`, `default`, `examples`, `enum`) is used before one made up from the type.
"""

from __future__ import annotations

from typing import Any

# A made-up string; padded or cut to the schema's length bounds.
EXAMPLE_TEXT = "example"
# Strings in a known format, so a tool that parses them gets a valid value.
_FORMATS = {
    "date": "2026-01-01",
    "date-time": "2026-01-01T00:00:00Z",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "duration": "P1D",
}
# Self-referencing schemas ($ref cycles) stop here instead of recursing forever.
_MAX_DEPTH = 8


def example_arguments(parameters: dict[str, Any] | None) -> dict[str, Any]:
    """The arguments of a tool whose `parameters` schema this is: its required properties."""
    if not parameters:
        return {}
    value = _value(parameters, parameters.get("$defs", {}), 0)
    return value if isinstance(value, dict) else {}


def _value(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return None
    schema = _resolve(schema, defs)
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        # The first branch that is not null: `X | None` gives an X.
        chosen = next((b for b in branches if b.get("type") != "null"), branches[0])
        return _value({**_without(schema, "anyOf", "oneOf"), **chosen}, defs, depth + 1)
    if schema.get("allOf"):
        merged = _without(schema, "allOf")
        for part in schema["allOf"]:
            merged = {**merged, **_resolve(part, defs)}
        return _value(merged, defs, depth + 1)
    return _of_type(schema, _type_of(schema), defs, depth)


def _of_type(schema: dict[str, Any], kind: str, defs: dict[str, Any], depth: int) -> Any:
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: _value(properties.get(name, {}), defs, depth + 1)
            for name in schema.get("required", [])
        }
    if kind == "array":
        return _array(schema, defs, depth)
    if kind == "integer":
        return int(_number(schema, 0))
    if kind == "number":
        return float(_number(schema, 0.0))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema)


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        # ["string", "null"]: the first type that carries a value.
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    # No type: guess from the keywords that only one type has; else a string.
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return "string"


def _array(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> list[Any]:
    prefix = [_value(item, defs, depth + 1) for item in schema.get("prefixItems", [])]
    # One item shows the item's shape; minItems/maxItems bound the count.
    count = max(int(schema.get("minItems", 1)), len(prefix))
    count = min(count, int(schema.get("maxItems", count)))
    items = schema.get("items")
    rest = [] if items is False else [_value(items or {}, defs, depth + 1)] * (count - len(prefix))
    return (prefix + rest)[:count]


def _number(schema: dict[str, Any], zero: float) -> float:
    value: float = zero
    if "minimum" in schema:
        value = max(value, schema["minimum"])
    if "exclusiveMinimum" in schema:
        value = max(value, schema["exclusiveMinimum"] + 1)
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    if "exclusiveMaximum" in schema:
        value = min(value, schema["exclusiveMaximum"] - 1)
    step = schema.get("multipleOf")
    if step and value % step:
        value = (value // step + 1) * step
    return value


def _string(schema: dict[str, Any]) -> str:
    text = _FORMATS.get(str(schema.get("format")), EXAMPLE_TEXT)
    low = int(schema.get("minLength", 0))
    if len(text) < low:
        text = (text * (low // len(text) + 1))[:low]
    if "maxLength" in schema:
        text = text[: int(schema["maxLength"])]
    return text


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The schema with a local `$ref` (`#/$defs/Name`) replaced by its definition."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
        return schema
    target = defs.get(ref.removeprefix("#/$defs/"), {})
    return {**_without(schema, "$ref"), **target}


def _without(schema: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in keys}
