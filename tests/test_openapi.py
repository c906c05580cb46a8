"""The OpenAPI document declares every answer a route gives, and security only when asked."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.background import BackgroundServer
from app.main import create_app
from tests.conftest import make_settings

PROTECTED = {
    ("post", "/sessions"): {"403", "409", "413", "422", "429", "503"},
    ("get", "/sessions"): {"403", "422", "503"},
    ("get", "/sessions/{session_id}"): {"404", "422", "503"},
    ("delete", "/sessions/{session_id}"): {"404", "422", "429", "503"},
    ("get", "/sessions/{session_id}/events"): {"404", "422", "503"},
    ("post", "/sessions/{session_id}/summary"): {"404", "422", "429", "502", "503"},
    ("post", "/events"): {"404", "413", "422", "429", "503"},
    ("get", "/metrics"): {"403", "503"},
}
OPEN = {("get", "/health"): {"503"}, ("get", "/auth/config"): set()}


def _document(**overrides: Any) -> dict[str, Any]:
    schema: dict[str, Any] = create_app(make_settings(**overrides)).openapi()
    return schema


def _operation(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = schema["paths"][path][method]
    return operation


def test_an_open_server_declares_no_security_and_no_401() -> None:
    schema = _document()
    assert "securitySchemes" not in schema.get("components", {})
    for (method, path), errors in {**PROTECTED, **OPEN}.items():
        operation = _operation(schema, method, path)
        assert "security" not in operation
        assert {code for code in operation["responses"] if code >= "400"} == errors, path


@pytest.mark.parametrize(
    "overrides",
    [{"api_key": SecretStr("k")}, {"auth_jwt_secret": SecretStr("s" * 32)}],
    ids=["api-key", "user-sign-in"],
)
def test_a_keyed_server_declares_bearer_security_and_401_on_protected_routes(
    overrides: dict[str, Any],
) -> None:
    schema = _document(**overrides)
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for (method, path), errors in PROTECTED.items():
        operation = _operation(schema, method, path)
        assert operation["security"] == [{"HTTPBearer": []}]
        assert {code for code in operation["responses"] if code >= "400"} == errors | {"401"}
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    for method, path in OPEN:
        assert "security" not in _operation(schema, method, path)


def test_errors_have_a_detail_body_and_429_says_retry_after() -> None:
    schema = _document()
    create = _operation(schema, "post", "/sessions")["responses"]
    for code in ("403", "409", "413", "429", "503"):
        ref = create[code]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/ErrorOut"
    assert "Retry-After" in create["429"]["headers"]
    assert schema["components"]["schemas"]["ErrorOut"]["required"] == ["detail"]


def test_tags_are_described_and_bodies_have_examples() -> None:
    schema = _document()
    described = {tag["name"]: tag["description"] for tag in schema["tags"]}
    assert {"health", "auth", "sessions", "events", "websocket"} <= described.keys()
    assert all(described.values())
    used = {tag for item in schema["paths"].values() for op in item.values() for tag in op["tags"]}
    assert used <= described.keys()
    for model in ("SessionCreate", "EventCreate", "SessionOut", "EventOut"):
        assert schema["components"]["schemas"][model]["examples"], model


async def test_the_server_serves_the_document_for_its_settings(tmp_path: Any) -> None:
    settings = make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'o.db'}")
    with BackgroundServer(settings.model_copy(update={"api_key": SecretStr("k")})) as server:
        served = httpx.get(f"{server.url}/openapi.json").json()
    assert "securitySchemes" in served["components"]
    assert "401" in served["paths"]["/sessions"]["get"]["responses"]


async def test_a_body_that_is_not_utf8_is_422_like_bad_json(live_server: BackgroundServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for path in ("/sessions", "/events"):
            answer = await http.post(
                path, content=b"\xff\xfe{", headers={"Content-Type": "application/json"}
            )
            assert answer.status_code == 422, answer.text
            assert answer.json()["detail"][0]["type"] == "json_invalid"
