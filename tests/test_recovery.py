"""A database that goes away gives 503 with a clear detail; the service recovers by itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from app.background import BackgroundServer
from app.config import Settings
from tests.conftest import empty_postgres, make_settings
from tests.servers.tcp_proxy import TcpProxy
from tests.wsclient import ask, open_session


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    """A cuttable path to the test PostgreSQL."""
    url = make_url(pg_url)
    tcp = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    tcp.restore()
    yield tcp
    tcp.shutdown()


async def _until(
    http: httpx.AsyncClient, path: str, status: int, tries: int = 100
) -> httpx.Response:
    for _ in range(tries):
        answer = await http.get(path)
        if answer.status_code == status:
            return answer
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"{path} never answered {status}; last: {answer.status_code} {answer.text}"
    )


async def test_database_outage_is_503_and_the_service_recovers(
    pg_url: str, proxy: TcpProxy, server_factory: Callable[[Settings], BackgroundServer]
) -> None:
    await empty_postgres(pg_url)
    through_proxy = make_url(pg_url).set(port=proxy.port).render_as_string(hide_password=False)
    server = server_factory(make_settings(database_url=through_proxy))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        assert (await http.post("/sessions", json={"session_id": "before"})).status_code == 201

        proxy.cut()
        down = await http.get("/sessions")
        assert down.status_code == 503
        # The store's own words only: the driver's text (asyncpg's, the socket's) stays in the log.
        assert down.json()["detail"] == "database unavailable; try again later"
        health = await http.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert health.json()["detail"] == "database unavailable; try again later"
        created = await http.post("/sessions", json={"session_id": "during"})
        assert created.status_code == 503

        proxy.restore()
        await _until(http, "/health", 200)
        listed = await _until(http, "/sessions", 200)
        assert [s["session_id"] for s in listed.json()] == ["before"]
    ws, _ = await open_session(server.url, "after-outage")
    assert (await ask(ws, "Are you back?"))[-1]["finish_reason"] == "stop"
    await ws.close()
