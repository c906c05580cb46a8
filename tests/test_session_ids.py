"""Session ids are checked with a full match in every layer: a trailing newline is no id."""

from __future__ import annotations

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.analysis.demo import ws_url
from app.api.models import EventCreate, SessionCreate
from app.background import BackgroundServer
from app.vocabulary import is_session_id

# Each is a valid id with something around it that `re.match(...$)` lets through or nearly.
NEAR_IDS = ["abc\n", "abc\r\n", "\nabc", "abc\n\n", "a" * 128 + "\n"]


def test_only_whole_valid_ids_pass() -> None:
    assert all(is_session_id(good) for good in ["a", "A-z_0.9:x", "a" * 128])
    assert not any(is_session_id(bad) for bad in [*NEAR_IDS, "", "a" * 129, "a b", "a/b"])


@pytest.mark.parametrize("bad_id", NEAR_IDS)
def test_the_rest_models_refuse_a_near_id(bad_id: str) -> None:
    with pytest.raises(ValueError):
        SessionCreate(session_id=bad_id)
    with pytest.raises(ValueError):
        EventCreate(session_id=bad_id, event_type="user_message")


@pytest.mark.parametrize("encoded", ["abc%0A", "abc%0D%0A", "%0Aabc", "abc%0A%0A"])
async def test_a_websocket_id_with_a_newline_is_refused_at_the_handshake(
    live_server: BackgroundServer, encoded: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(ws_url(live_server.url, "placeholder").replace("placeholder", encoded))
    assert refused.value.response.status_code == 403
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        assert (await http.get("/sessions")).json() == []


@pytest.mark.parametrize("encoded", ["abc%0A", "abc%0D%0A", "%0Aabc"])
async def test_a_rest_id_with_a_newline_is_422(live_server: BackgroundServer, encoded: str) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for method, path in [
            ("GET", f"/sessions/{encoded}"),
            ("GET", f"/sessions/{encoded}/events"),
            ("POST", f"/sessions/{encoded}/summary"),
            ("DELETE", f"/sessions/{encoded}"),
        ]:
            answer = await http.request(method, path)
            assert answer.status_code == 422, (method, path, answer.text)
        created = await http.post("/sessions", json={"session_id": "abc\n"})
        assert created.status_code == 422
        event = await http.post("/events", json={"session_id": "abc\n", "event_type": "error"})
        assert event.status_code == 422
