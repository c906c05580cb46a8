"""API_KEY: REST calls need the bearer key; /health stays open."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.main import create_app
from tests.conftest import make_settings


@pytest.fixture
async def locked(tmp_path) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    app = create_app(
        make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/a.db", api_key="s3cret-key")
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


async def test_rest_without_key_is_401(locked: httpx.AsyncClient) -> None:
    answer = await locked.get("/sessions")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert (await locked.post("/events", json={})).status_code == 401


async def test_rest_with_wrong_key_is_401(locked: httpx.AsyncClient) -> None:
    answer = await locked.get("/sessions", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401


async def test_rest_with_key_works_and_health_stays_open(locked: httpx.AsyncClient) -> None:
    answer = await locked.get("/sessions", headers={"Authorization": "Bearer s3cret-key"})
    assert answer.status_code == 200
    assert (await locked.get("/health")).status_code == 200


async def test_cors_allows_only_the_configured_origins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        make_settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path}/c.db",
            cors_origins="http://localhost:3000",
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            for origin, allowed in (
                ("http://localhost:3000", True),
                ("https://evil.example", False),
            ):
                answer = await http.options(
                    "/sessions",
                    headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
                )
                assert (answer.headers.get("access-control-allow-origin") == origin) is allowed
