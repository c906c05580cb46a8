"""The OpenAPI document: the answers each route can give, tags, and security only when asked.

Routes declare their error answers with `answers(...)`; `install_openapi` adds what depends on the
settings: the bearer scheme and the 401 answer only when `API_KEY` (or users' sign-in) is set.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from app.config import Settings

_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


class ErrorOut(BaseModel):
    """An error answer: what went wrong, for people (never a driver's text)."""

    detail: str = Field(examples=["Unknown session: demo-1"])


DESCRIPTIONS: dict[int, str] = {
    401: "No accepted API key or token (`Authorization: Bearer …`).",
    403: "A signed-in user named another user (or, for /metrics, is not the service).",
    404: "Unknown session (or another user's).",
    409: "The session id is taken.",
    413: "The request body is over 1 MiB.",
    429: "Over RATE_LIMIT_PER_MINUTE; `Retry-After` says when to try again.",
    502: "The model provider failed.",
    503: "Storage (or the sign-in keys) unavailable; try again.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`."}},
    429: {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."}},
}

TAGS: list[dict[str, str]] = [
    {"name": "health", "description": "Whether storage answers, and which model serves."},
    {"name": "auth", "description": "How a client signs in (API key, users' tokens)."},
    {"name": "sessions", "description": "Conversation sessions: create, list, read, summarise."},
    {"name": "events", "description": "A session's stored messages, tool calls and results."},
    {"name": "operations", "description": "Running the service: Prometheus metrics."},
    {"name": "exports", "description": "Transcripts and every event of a time range, streamed."},
    {
        "name": "websocket",
        "description": "The conversation itself runs on the WebSocket `/ws/session/{session_id}` "
        "(not an OpenAPI operation): user messages in, streamed answers out; see docs/api.md.",
    },
]


def answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries for these error statuses, each with the `ErrorOut` body."""
    declared: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorOut, "description": DESCRIPTIONS[code]}
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        declared[code] = entry
    return declared


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        operation
        for item in schema.get("paths", {}).values()
        for method, operation in item.items()
        if method in _HTTP_METHODS
    ]


def secure_or_open(schema: dict[str, Any], *, credentials_required: bool) -> dict[str, Any]:
    """With credentials required, add 401 where a route has security; else drop security.

    Routes declare `ErrorOut` answers, so its schema is among the components already.
    """
    error_ref = {"$ref": "#/components/schemas/ErrorOut"}
    for operation in _operations(schema):
        if "security" not in operation:
            continue
        if credentials_required:
            operation["responses"]["401"] = {
                "description": DESCRIPTIONS[401],
                "headers": _HEADERS[401],
                "content": {"application/json": {"schema": error_ref}},
            }
        else:
            del operation["security"]
    if not credentials_required:
        schema.get("components", {}).pop("securitySchemes", None)
    return schema


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Serve `/openapi.json` built once with tags and the settings' security."""
    required = settings.api_key is not None or settings.user_sign_in

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=TAGS,
            )
            app.openapi_schema = secure_or_open(schema, credentials_required=required)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
