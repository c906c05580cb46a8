"""The REST API of the contract through the real ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

SQLISH = "Robert'); DROP TABLE sessions;-- «ünïcödé» 🎉"


async def test_health_reports_storage_and_provider(client: httpx.AsyncClient, backend: str) -> None:
    answer = await client.get("/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok" and body["storage"] == backend and body["llm"] == "local"


async def test_session_create_get_list_delete(client: httpx.AsyncClient) -> None:
    created = await client.post("/sessions", json={"user_id": "ann", "metadata": {"a": 1}})
    assert created.status_code == 201
    session = created.json()
    sid = session["session_id"]
    assert session["status"] == "active" and session["metadata"] == {"a": 1}
    assert (await client.get(f"/sessions/{sid}")).json() == session
    listed = (await client.get("/sessions", params={"user_id": "ann"})).json()
    assert [s["session_id"] for s in listed] == [sid]
    assert (await client.delete(f"/sessions/{sid}")).status_code == 204
    assert (await client.get(f"/sessions/{sid}")).status_code == 404


async def test_duplicate_session_is_409(client: httpx.AsyncClient) -> None:
    assert (await client.post("/sessions", json={"session_id": "same"})).status_code == 201
    again = await client.post("/sessions", json={"session_id": "same"})
    assert again.status_code == 409 and "same" in again.json()["detail"]


async def test_events_are_stored_and_listed_in_order(client: httpx.AsyncClient) -> None:
    await client.post("/sessions", json={"session_id": "chat-1"})
    for text in ["hello", SQLISH, "x" * 50_000]:
        answer = await client.post(
            "/events", json={"session_id": "chat-1", "event_type": "user_message", "content": text}
        )
        assert answer.status_code == 201
        assert answer.json()["role"] == "user" and answer.json()["content"] == text
    events = (await client.get("/sessions/chat-1/events")).json()
    assert [e["content"] for e in events] == ["hello", SQLISH, "x" * 50_000]
    later = (
        await client.get("/sessions/chat-1/events", params={"after_id": events[0]["id"]})
    ).json()
    assert [e["id"] for e in later] == [e["id"] for e in events[1:]]


async def test_event_for_unknown_session_is_404(client: httpx.AsyncClient) -> None:
    answer = await client.post("/events", json={"session_id": "ghost", "event_type": "error"})
    assert answer.status_code == 404
    assert (await client.get("/sessions/ghost/events")).status_code == 404
    assert (await client.post("/sessions/ghost/summary")).status_code == 404
    assert (await client.delete("/sessions/ghost")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/sessions/bad%20id", None),
        ("get", "/sessions/" + "a" * 129, None),
        ("get", "/sessions/bad$id/events", None),
        ("get", "/sessions?limit=0", None),
        ("get", "/sessions?limit=501", None),
        ("get", "/sessions?offset=-1", None),
        ("get", "/sessions?status=paused", None),
        ("get", "/sessions/ok/events?after_id=-5", None),
        ("post", "/sessions", {"session_id": "has space"}),
        ("post", "/sessions", {"unknown": 1}),
        ("post", "/sessions", {"metadata": "not an object"}),
        ("post", "/events", {"session_id": "ok", "event_type": "nonsense"}),
        ("post", "/events", {"session_id": "ok", "event_type": "error", "role": "robot"}),
        ("post", "/events", {"event_type": "error"}),
        ("post", "/events", [1, 2, 3]),
    ],
)
async def test_malformed_input_is_422_with_detail(
    client: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    answer = await client.request(method, path, json=body)
    assert answer.status_code == 422
    assert answer.json()["detail"]


async def test_invalid_json_body_is_422(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/sessions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422


async def test_summary_is_rebuilt_on_demand(client: httpx.AsyncClient) -> None:
    await client.post("/sessions", json={"session_id": "sum-1", "user_id": "ann"})
    await client.post(
        "/events",
        json={"session_id": "sum-1", "event_type": "user_message", "content": "Do we have mice?"},
    )
    answer = await client.post("/sessions/sum-1/summary")
    assert answer.status_code == 200
    summary = answer.json()["summary"]
    assert summary and "ann" in summary
    assert (await client.get("/sessions/sum-1")).json()["summary"] == summary


async def test_openapi_lists_every_contract_route(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in [
        "/health",
        "/sessions",
        "/sessions/{session_id}",
        "/sessions/{session_id}/events",
        "/sessions/{session_id}/summary",
        "/events",
    ]:
        assert path in paths
    assert (await client.get("/docs")).status_code == 200
