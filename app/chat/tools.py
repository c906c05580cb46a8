"""A small tool registry: typed functions whose JSON schemas come from their signatures."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, get_type_hints

from pydantic import BaseModel, ValidationError, create_model
from pydantic_core import PydanticSerializationError, to_jsonable_python

from app.llm.base import ToolSpec

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


def build_registry(functions: Iterable[Callable[..., Any]]) -> ToolRegistry:
    """A registry offering the given typed, documented functions."""
    registry = ToolRegistry()
    for function in functions:
        registry.register(function)
    return registry
