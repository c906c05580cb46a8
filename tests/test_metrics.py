"""`GET /metrics` moves as sessions connect, answers end, tools run, errors go out and replays run.

The collectors are this process's (the test servers run in it), so each test compares a
scrape taken before with one taken after, read with prometheus-client's own parser.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.background import BackgroundServer
from app.config import Settings
from tests.servers.jwks import ISSUER, JWT_SECRET, hs256_token
from tests.servers.openai_sse import USAGE, OpenAIStandIn
from tests.wsclient import (
    ask,
    next_of,
    of_type,
    open_session,
    read_turn,
    send,
    stored_events,
)

pytestmark = pytest.mark.timeout(120)
sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
ServerFactory = Callable[[Settings], BackgroundServer]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
KEY = "metrics-test-key"


def parse(text: str) -> Samples:
    """Every sample of a scrape by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(base_url: str, key: str | None = None) -> Samples:
    """The server's metrics, parsed."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:
        answer = await http.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return parse(answer.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent, as a counter not yet touched)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much one sample changed between two scrapes."""
    return value(after, name, **labels) - value(before, name, **labels)


async def wait_until(
    check: Callable[[Samples], bool], base_url: str, key: str | None = None
) -> Samples:
    """Scrape until `check` holds (a session's end is written after its socket closed)."""
    deadline = time.monotonic() + 10
    while True:
        samples = await scrape(base_url, key)
        if check(samples):
            return samples
        assert time.monotonic() < deadline, "the metrics never reached the expected values"
        await asyncio.sleep(0.02)


@pytest.fixture
def slow(settings: Settings, server_factory: ServerFactory) -> BackgroundServer:
    """A server whose local model pauses between words, so an answer can be interrupted."""
    return server_factory(settings.model_copy(update={"local_llm_delay_ms": 30}))


async def test_connections_answers_tool_calls_tokens_and_timings_are_counted(
    live_server: BackgroundServer,
) -> None:
    base = live_server.url
    before = await scrape(base)
    writer, _ = await open_session(base, "metrics-a")
    observer, _ = await open_session(base, "metrics-a", mode="observe")
    during = await scrape(base)
    assert moved(before, during, "realtime_sessions_connected", role="writer") == 1
    assert moved(before, during, "realtime_sessions_connected", role="observer") == 1

    frames = await ask(writer, "What time is it?")
    done = of_type(frames, "assistant.done")[0]
    usage = done["usage"]
    await writer.close()
    await observer.close()
    after = await wait_until(
        lambda s: (
            value(s, "realtime_sessions_connected", role="writer")
            == value(before, "realtime_sessions_connected", role="writer")
            and value(s, "realtime_sessions_connected", role="observer")
            == value(before, "realtime_sessions_connected", role="observer")
        ),
        base,
    )
    assert moved(before, after, "realtime_answers_total", finish_reason="stop") == 1
    assert moved(before, after, "realtime_tool_calls_total", tool="get_current_time") == 1
    assert moved(before, after, "realtime_tokens_total", kind="prompt") == usage["prompt_tokens"]
    assert (
        moved(before, after, "realtime_tokens_total", kind="completion")
        == usage["completion_tokens"]
    )
    for histogram in ("realtime_answer_ttft_seconds", "realtime_answer_duration_seconds"):
        assert moved(before, after, f"{histogram}_count") == 1
        assert moved(before, after, f"{histogram}_sum") > 0
        # The buckets a hosted model needs: 50 ms to 30 s.
        assert value(after, f"{histogram}_bucket", le="0.05") >= 0
        assert (f"{histogram}_bucket", (("le", "30.0"),)) in after
    # The question, the tool call and result, the answer at least (group commits may merge some).
    assert moved(before, after, "realtime_store_write_batch_size_sum") >= 4
    assert moved(before, after, "realtime_store_write_seconds_count") >= 1
    assert value(after, "process_resident_memory_bytes") > 0
    build = [key for key in after if key[0] == "realtime_build_info"]
    assert build and ("llm", "local") in build[0][1]


@sqlite_only
async def test_errors_are_counted_by_code_and_answers_by_finish_reason(
    slow: BackgroundServer,
) -> None:
    base = slow.url
    before = await scrape(base)
    ws, _ = await open_session(base, "metrics-errors")
    await send(ws, {"type": "nope"})
    assert (await next_of(ws, "error"))["code"] == "invalid_message"
    await send(ws, {"type": "user.message", "content": "Tell me a long story about the sea"})
    await next_of(ws, "assistant.delta")
    await send(ws, {"type": "user.message", "content": "and another"})
    assert (await next_of(ws, "error"))["code"] == "busy"
    await send(ws, {"type": "cancel"})
    done = await next_of(ws, "assistant.done")
    assert done["finish_reason"] == "cancelled"
    await ws.close()
    after = await scrape(base)
    assert moved(before, after, "realtime_errors_total", code="invalid_message") == 1
    assert moved(before, after, "realtime_errors_total", code="busy") == 1
    assert moved(before, after, "realtime_answers_total", finish_reason="cancelled") == 1
    assert moved(before, after, "realtime_answers_total", finish_reason="stop") == 0


@sqlite_only
async def test_a_replay_request_and_its_frames_are_counted(live_server: BackgroundServer) -> None:
    base = live_server.url
    ws, _ = await open_session(base, "metrics-replay", on_disconnect="continue")
    await ask(ws, "Do we have any mice in stock?")
    await ws.close()
    before = await scrape(base)
    again, started = await open_session(base, "metrics-replay", after_seq=0)
    replayed = await read_turn(again)
    await again.close()
    after = await scrape(base)
    assert moved(before, after, "realtime_replay_requests_total") == 1
    assert moved(before, after, "realtime_replay_frames_total") == len(replayed)
    assert started["last_seq"] == replayed[-1]["seq"]


@sqlite_only
async def test_metrics_need_the_api_key_and_refuse_a_users_own_token(
    settings: Settings, server_factory: ServerFactory
) -> None:
    server = server_factory(
        settings.model_copy(
            update={
                "api_key": SecretStr(KEY),
                "auth_jwt_secret": SecretStr(JWT_SECRET),
                "auth_jwt_issuer": ISSUER,
            }
        )
    )
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        user = await http.get(
            "/metrics", headers={"Authorization": f"Bearer {hs256_token('user-1')}"}
        )
        assert user.status_code == 403
        assert "realtime_" not in user.text
    assert value(await scrape(server.url, KEY), "process_resident_memory_bytes") > 0


@sqlite_only
async def test_llm_prices_give_each_answer_its_cost_in_metadata_and_metrics(
    settings: Settings, server_factory: ServerFactory
) -> None:
    prices = {"local-rules": {"prompt": 2.5, "completion": 10.0}}
    server = server_factory(settings.model_copy(update={"llm_prices": json.dumps(prices)}))
    before = await scrape(server.url)
    ws, _ = await open_session(server.url, "metrics-cost")
    usage = of_type(await ask(ws, "hello there"), "assistant.done")[0]["usage"]
    await ws.close()
    expected = (usage["prompt_tokens"] * 2.5 + usage["completion_tokens"] * 10.0) / 1e6
    events = await stored_events(server.url, "metrics-cost")
    [answer] = [e for e in events if e["event_type"] == "assistant_message"]
    assert answer["metadata"]["cost_usd"] == pytest.approx(expected)
    after = await scrape(server.url)
    assert moved(before, after, "realtime_cost_usd_total", model="local-rules") == pytest.approx(
        expected
    )


@sqlite_only
async def test_a_model_failure_counts_as_llm_error_and_an_error_answer_on_the_openai_path(
    settings: Settings, openai_server: OpenAIStandIn, server_factory: ServerFactory
) -> None:
    prices = {"stand-in-model": {"prompt": 1.0, "completion": 2.0}}
    server = server_factory(
        settings.model_copy(
            update={
                "llm_provider": "openai",
                "openai_base_url": openai_server.base_url,
                "llm_model": "stand-in-model",
                "llm_max_retries": 0,
                "llm_prices": json.dumps(prices),
            }
        )
    )
    openai_server.fail(500, "the model is on fire")
    openai_server.answer_text("Fine ", "now.")
    before = await scrape(server.url)
    ws, _ = await open_session(server.url, "metrics-openai")
    assert of_type(await ask(ws, "Hello?"), "assistant.done")[0]["finish_reason"] == "error"
    await ask(ws, "Again?")
    await ws.close()
    after = await scrape(server.url)
    assert moved(before, after, "realtime_errors_total", code="llm_error") == 1
    assert moved(before, after, "realtime_answers_total", finish_reason="error") == 1
    assert moved(before, after, "realtime_answers_total", finish_reason="stop") == 1
    assert moved(before, after, "realtime_tokens_total", kind="prompt") == USAGE["prompt_tokens"]
    expected = (USAGE["prompt_tokens"] * 1.0 + USAGE["completion_tokens"] * 2.0) / 1e6
    cost = moved(before, after, "realtime_cost_usd_total", model="stand-in-model")
    assert cost == pytest.approx(expected)
