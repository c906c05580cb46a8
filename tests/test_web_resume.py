"""The page on a resumable session, in real Chromium: it reconnects with `after_seq`, watches a
session open elsewhere and can take it over, queues what is typed during an answer, and sends a
message again (same `client_message_id`) when the server's echo never came."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, expect

from tests.pages import ServerFactory, Watched, open_chat, shot, start_openai_server
from tests.servers.openai_sse import OpenAIStandIn
from tests.servers.tcp_proxy import TcpProxy
from tests.wsclient import stored_events

pytestmark = pytest.mark.browser

# The stand-in's slow answer: one word every 20 ms, about 3 s in all.
WORD, WORDS = "word ", 150


async def send(page: Page, text: str) -> None:
    """Type `text` in the composer and press Enter, without waiting for an answer."""
    await page.locator("#message").fill(text)
    await page.locator("#message").press("Enter")


def query(url: str) -> dict[str, str]:
    """A socket URL's query parameters."""
    return {key: values[0] for key, values in parse_qs(urlparse(url).query).items()}


@pytest.fixture
def proxy(
    server_factory: ServerFactory, tmp_path: Path, openai_server: OpenAIStandIn
) -> Iterator[TcpProxy]:
    """A TCP path to a real server (model: the stand-in) that the test can cut and restore."""
    url = start_openai_server(server_factory, tmp_path, openai_server)
    tcp = TcpProxy("127.0.0.1", int(url.rsplit(":", 1)[1]))
    tcp.restore()
    yield tcp
    tcp.shutdown()


async def test_a_half_streamed_answer_completes_in_place_after_the_connection_drops(
    watched: Watched, proxy: TcpProxy, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_slowly(WORD, count=WORDS, interval=0.02)
    page = watched.page
    await open_chat(page, f"http://127.0.0.1:{proxy.port}/")
    await send(page, "Talk for a while")
    streaming = page.locator("#messages .msg.assistant.streaming")
    await expect(streaming.locator(".text")).to_contain_text(WORD.strip())
    await streaming.evaluate("bubble => { bubble.dataset.before = 'drop'; }")

    proxy.cut()
    await expect(page.locator("#conn-status")).not_to_have_attribute("data-state", "connected")
    # The answer is not marked cut off: the page expects to see the rest.
    await expect(streaming).to_have_count(1)
    proxy.restore()

    done = await watched.nth_of("assistant.done", 1, timeout=30)
    assert done["finish_reason"] == "stop" and done["content"] == WORD * WORDS
    reconnect = query(watched.sockets[-1])
    assert int(reconnect["after_seq"]) > 0 and reconnect["on_disconnect"] == "continue"
    # Nothing missed, nothing twice: the deltas before and after the drop make the answer.
    assert "".join(f["delta"] for f in watched.of_type("assistant.delta")) == done["content"]
    answer = page.locator("#messages .msg.assistant")
    await expect(answer).to_have_count(1)
    await expect(answer).to_have_attribute("data-before", "drop")
    await expect(answer.locator(".finish")).to_have_count(0)
    await expect(answer.locator(".text")).to_have_text(done["content"].strip())
    await expect(page.locator("#messages .msg.user")).to_have_count(1)


async def test_a_second_tab_watches_live_and_takes_over_mid_answer(
    watched: Watched,
    server_factory: ServerFactory,
    tmp_path: Path,
    openai_server: OpenAIStandIn,
    browser: Browser,
) -> None:
    openai_server.answer_slowly(WORD, count=WORDS, interval=0.02)
    first = watched.page
    url = start_openai_server(server_factory, tmp_path, openai_server)
    session_id = await open_chat(first, f"{url}/")
    context = await browser.new_context(viewport=shot.VIEWPORT)
    try:
        second = Watched(await context.new_page())
        tab = second.page
        await tab.goto(f"{url}/?session={session_id}")
        await expect(tab.locator("#conn-status")).to_have_attribute("data-state", "observing")
        await expect(tab.locator("#conn-label")).to_have_text("Watching (read-only)")
        await expect(tab.locator("#observer-bar")).to_be_visible()
        await expect(tab.locator("#messages .note.warn")).to_contain_text("watches it")
        await expect(tab.locator("#send")).to_be_disabled()
        assert second.of_type("session.started")[-1]["mode"] == "observe"

        await send(first, "Talk for a while")
        await expect(tab.locator("#messages .msg.user .text")).to_have_text("Talk for a while")
        watching = tab.locator("#messages .msg.assistant.streaming .text")
        await expect(watching).to_contain_text(WORD.strip())
        await tab.get_by_role("button", name="Take over").click()

        await expect(tab.locator("#conn-status")).to_have_attribute("data-state", "connected")
        await expect(tab.locator("#observer-bar")).to_be_hidden()
        await expect(first.locator("#conn-status")).to_have_attribute("data-state", "observing")
        await expect(first.locator("#messages .note.warn")).to_contain_text("took this session")
        await expect(first.locator("#send")).to_be_disabled()
        # The answer went on through the takeover, to its end, on both pages.
        done = await second.nth_of("assistant.done", 1, timeout=30)
        assert done["finish_reason"] == "stop" and done["content"] == WORD * WORDS
        for page in (first, tab):
            answer = page.locator("#messages .msg.assistant")
            await expect(answer).to_have_count(1)
            await expect(answer.locator(".finish")).to_have_count(0)
            await expect(answer.locator(".text")).to_have_text(done["content"].strip())

        await shot.ask(tab, "Thanks!")
        await expect(first.locator("#messages .msg.user .text").last).to_have_text("Thanks!")
        assert second.errors == []
    finally:
        await context.close()


async def test_a_message_typed_during_an_answer_waits_and_is_answered_next(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_slowly(WORD, count=60, interval=0.02)
    openai_server.answer_text("The second ", "answer.")
    page = watched.page
    await open_chat(page, start_openai_server(server_factory, tmp_path, openai_server) + "/")
    await send(page, "First")
    await expect(page.locator("#messages .msg.assistant.streaming")).to_be_visible()
    await expect(page.locator("#send")).to_be_enabled()
    await send(page, "Second")

    waiting = page.locator("#messages .msg.user.waiting")
    await expect(waiting.locator(".text")).to_have_text("Second")
    await expect(waiting.locator(".wait-mark")).to_have_text("waiting")
    sent = [frame for frame in watched.sent if frame["type"] == "user.message"]
    assert [frame["on_busy"] for frame in sent] == ["enqueue", "enqueue"]
    assert (await watched.nth_of("user.message", 2))["queued"] is True

    await watched.nth_of("assistant.done", 2, timeout=30)
    await expect(waiting).to_have_count(0)
    await expect(page.locator("#messages .msg .wait-mark")).to_have_count(0)
    order = await page.locator("#messages .msg").evaluate_all(
        "bubbles => bubbles.map((b) => `${b.classList[1]}:${b.querySelector('.text').innerText}`)"
    )
    assert order == [
        "user:First",
        f"assistant:{(WORD * 60).strip()}",
        "user:Second",
        "assistant:The second answer.",
    ]


class LosingRoute:
    """Passes the page's socket through to the real server, but on the first connection loses the
    first user message (before or after the server got it) by closing both ends there; Playwright's
    WebSocket routing is the only way to drop exactly that frame."""

    def __init__(self, *, reaches_server: bool) -> None:
        self.reaches_server = reaches_server
        self.connections = 0
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []

    async def __call__(self, ws: WebSocketRoute) -> None:
        self.connections += 1
        lossy = self.connections == 1
        losing = False
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            nonlocal losing
            frame = json.loads(message)
            self.sent.append(frame)
            if lossy and frame["type"] == "user.message":
                losing = True
                if self.reaches_server:
                    server.send(message)
                asyncio.get_running_loop().create_task(self._drop(ws, server))
                return
            server.send(message)

        def from_server(message: str | bytes) -> None:
            # From the lost message on, nothing reaches the page on this connection.
            if losing:
                return
            self.received.append(json.loads(message))
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    @staticmethod
    async def _drop(ws: WebSocketRoute, server: WebSocketRoute) -> None:
        await server.close()
        await ws.close(code=4000, reason="dropped by the test")


@pytest.mark.parametrize("reaches_server", [False, True], ids=["lost-on-the-way", "echo-lost"])
async def test_a_message_without_an_echo_is_sent_again_and_answered_once(
    watched: Watched, server_url: str, reaches_server: bool
) -> None:
    page = watched.page
    route = LosingRoute(reaches_server=reaches_server)
    await page.route_web_socket(re.compile(r"/ws/session/"), route)
    session_id = await open_chat(page, f"{server_url}/")
    await send(page, "What time is it?")

    await expect(page.locator("#messages .msg.assistant:not(.streaming)")).to_have_count(1)
    await expect(page.locator("#messages .msg.user")).to_have_count(1)
    await expect(page.locator("#messages .msg.user.sending")).to_have_count(0)
    sent = [frame for frame in route.sent if frame["type"] == "user.message"]
    assert len(sent) == 2 and route.connections == 2
    assert sent[0]["client_message_id"] == sent[1]["client_message_id"]
    echoes = [frame for frame in route.received if frame["type"] == "user.message"]
    assert [bool(echo.get("duplicate")) for echo in echoes] == (
        [False, True] if reaches_server else [False]
    )
    stored = await stored_events(server_url, session_id)
    kinds = [event["event_type"] for event in stored]
    assert kinds.count("user_message") == 1 and kinds.count("assistant_message") == 1


class DroppingRoute:
    """Passes the page's socket through to the real server; the first connection is dropped (both
    ends) right after the page got its `after`-th conversation frame. Playwright's WebSocket
    routing places the drop exactly; a TCP cut cannot."""

    def __init__(self, *, after: int) -> None:
        self.after = after
        self.connections = 0
        self.shown: list[dict[str, Any]] = []

    async def __call__(self, ws: WebSocketRoute) -> None:
        self.connections += 1
        lossy = self.connections == 1
        passed = 0
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            nonlocal passed
            if lossy and passed >= self.after:
                return
            frame = json.loads(message)
            self.shown.append(frame)
            ws.send(message)
            if lossy and "seq" in frame:
                passed += 1
                if passed == self.after:
                    asyncio.get_running_loop().create_task(LosingRoute._drop(ws, server))

        ws.on_message(server.send)
        server.on_message(from_server)


# An answer has at least five: user.message, tool.call, tool.result, a delta, done.
@pytest.mark.parametrize("after", [1, 2, 3, 4, 5])
async def test_a_drop_after_any_frame_of_an_answer_loses_and_repeats_nothing(
    watched: Watched, server_url: str, after: int
) -> None:
    page = watched.page
    route = DroppingRoute(after=after)
    await page.route_web_socket(re.compile(r"/ws/session/"), route)
    await open_chat(page, f"{server_url}/")
    await send(page, "What time is it?")

    answer = page.locator("#messages .msg.assistant")
    await expect(answer.locator(".finish")).to_have_count(0)
    await expect(page.locator("#messages .msg.assistant:not(.streaming)")).to_have_count(1)
    assert route.connections == 2
    seqs = [frame["seq"] for frame in route.shown if "seq" in frame]
    assert seqs == sorted(set(seqs)), "a frame came twice or out of order"
    [done] = [frame for frame in route.shown if frame["type"] == "assistant.done"]
    deltas = "".join(frame["delta"] for frame in route.shown if frame["type"] == "assistant.delta")
    # An answer that ended while the page was away comes back as its done (deltas may be left out).
    assert done["content"].startswith(deltas) and done["finish_reason"] == "stop"
    await expect(answer.locator(".text")).to_have_text(done["content"])
    await expect(page.locator("#messages .tool-card")).to_have_count(1)
    await expect(page.locator("#messages .tool-card .result")).not_to_have_text("running…")
    await expect(page.locator("#messages .msg.user")).to_have_count(1)


async def test_past_ten_waiting_messages_the_next_is_marked_not_sent(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_slowly(WORD, count=500, interval=0.02)
    page = watched.page
    await open_chat(page, start_openai_server(server_factory, tmp_path, openai_server) + "/")
    await send(page, "First")
    await expect(page.locator("#messages .msg.assistant.streaming")).to_be_visible()
    for n in range(11):
        await send(page, f"Later {n}")
    refused = page.locator("#messages .msg.user.refused")
    await expect(refused.locator(".text")).to_have_text("Later 10")
    await expect(refused.locator(".wait-mark")).to_have_text("not sent: busy")
    await expect(page.locator("#messages .msg.user.waiting")).to_have_count(10)
    await expect(page.locator("#messages .msg.error .code")).to_have_text("busy")
    await page.locator("#stop").click()
    # The stopped answer ends; the waiting messages are answered next, in order.
    await expect(page.locator("#messages .msg.user.waiting")).to_have_count(0)
    answers = page.locator("#messages .msg.assistant:not(.streaming)")
    await expect(answers).to_have_count(11)
    await expect(answers.first.locator(".finish")).to_have_text("stopped (cancelled)")
    users = page.locator("#messages .msg.user:not(.refused) .text")
    await expect(users).to_have_text(["First", *(f"Later {n}" for n in range(10))])
