"""The web page at `/`, driven in Debian's headless Chromium against a real uvicorn server."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from app import vocabulary
from app.background import BackgroundServer
from app.client import refuses
from tests.conftest import make_settings
from tests.pages import ServerFactory, Watched, open_chat, shot, start_server
from tests.servers.jwks import ACCOUNTS, ANON_KEY, JWT_SECRET, JwksServer, hs256_token
from tests.test_client import ENDS, GOES_ON
from tests.wsclient import stored_events

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


async def test_sending_what_time_is_it_shows_the_streamed_answer_and_a_time_tool_card(
    watched: Watched, server_url: str
) -> None:
    page = watched.page
    session_id = await open_chat(page, f"{server_url}/")
    await shot.ask(page, "What time is it?")

    await expect(page.locator("#messages .msg.user .text")).to_have_text("What time is it?")
    card = page.locator('#messages .tool-card[data-tool="get_current_time"]')
    await expect(card).to_be_visible()
    await expect(card.locator(".tool-preview")).not_to_have_text("…")
    await card.locator("summary").click()
    await expect(card.locator(".result")).to_contain_text("timezone")

    deltas = watched.of_type("assistant.delta")
    assert len(deltas) > 1, "the answer arrived in one piece, not streamed"
    answer = page.locator("#messages .msg.assistant .text")
    streamed = "".join(frame["delta"] for frame in deltas)
    await expect(answer).to_have_text(streamed)
    stored = [
        e
        for e in await stored_events(server_url, session_id)
        if e["event_type"] == "assistant_message"
    ]
    assert stored[-1]["content"] == streamed
    await expect(page.locator("#messages .msg.assistant .finish")).to_have_count(0)
    await expect(page.locator("#stop")).to_be_disabled()
    await expect(page.locator("#announcer")).to_contain_text(streamed)


async def test_stop_mid_answer_ends_the_answer_with_the_cancelled_marker(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path
) -> None:
    page = watched.page
    await open_chat(page, start_server(server_factory, tmp_path, local_llm_delay_ms=30) + "/")
    stop = page.locator("#stop")
    await expect(stop).to_be_disabled()

    await page.locator("#message").fill("Hello! Can you tell me about your return policy?")
    await page.locator("#message").press("Enter")
    await expect(page.locator("#messages .msg.assistant.streaming")).to_be_visible()
    await expect(stop).to_be_enabled()
    await stop.click()

    answer = page.locator("#messages .msg.assistant")
    await expect(answer.locator(".finish")).to_have_text("stopped (cancelled)")
    await expect(answer).not_to_have_class("streaming")
    await expect(stop).to_be_disabled()
    await expect(page.locator("#send")).to_be_enabled()
    assert watched.of_type("assistant.done")[-1]["finish_reason"] == "cancelled"


async def test_shift_enter_adds_a_line_and_enter_sends(watched: Watched, server_url: str) -> None:
    page = watched.page
    await open_chat(page, f"{server_url}/")
    composer = page.locator("#message")
    await composer.type("first line")
    await composer.press("Shift+Enter")
    await composer.type("second line")
    await expect(page.locator("#messages .msg.user")).to_have_count(0)
    await composer.press("Enter")

    await expect(page.locator("#messages .msg.user .text")).to_have_text("first line\nsecond line")
    await expect(composer).to_have_value("")
    await expect(composer).to_be_focused()


async def test_reloading_with_the_session_id_resumes_the_session_and_shows_earlier_messages(
    watched: Watched, server_url: str
) -> None:
    page = watched.page
    session_id = await open_chat(page, f"{server_url}/")
    assert page.url == f"{server_url}/?session={session_id}"
    await shot.ask(page, "What time is it?")

    await page.reload()
    await shot.wait_until_connected(page)
    assert await page.locator("#session-id").input_value() == session_id
    started = watched.of_type("session.started")[-1]
    assert started.pop("last_seq") > 0
    assert started == {
        "type": "session.started",
        "session_id": session_id,
        "user_id": "anonymous",
        "resumed": True,
        "history": 2,
        "mode": "write",
    }
    await expect(page.locator("#messages .msg.user .text")).to_have_text("What time is it?")
    await expect(page.locator('#messages .tool-card[data-tool="get_current_time"]')).to_be_visible()
    await expect(page.locator("#messages .msg.assistant .text")).not_to_be_empty()

    await shot.ask(page, "Thanks!")
    await expect(page.locator("#messages .msg.assistant").last).to_contain_text("earlier")


async def test_after_starting_a_new_session_the_ended_sessions_summary_appears_in_the_list(
    watched: Watched, server_url: str
) -> None:
    page = watched.page
    first = await open_chat(page, f"{server_url}/")
    await shot.ask(page, "Do we have any mice in stock?")
    item = page.locator(f'#session-list li[data-session-id="{first}"]')
    await expect(item.locator(".badge.current")).to_be_visible()

    await page.locator("#new-session").click()
    await shot.wait_until_connected(page)
    assert await page.locator("#session-id").input_value() != first
    await expect(page.locator("#messages > :not(.waiting-list)")).to_have_count(0)

    await expect(item.locator(".summary:not(.pending)")).to_be_visible(timeout=10_000)
    async with httpx.AsyncClient(base_url=server_url) as http:
        stored = (await http.get(f"/sessions/{first}")).json()
    await expect(item.locator(".summary")).to_have_text(stored["summary"])
    await expect(item.locator(".badge.ended")).to_be_visible()
    await expect(item).to_contain_text("1 turn")

    await item.locator("button").click()
    transcript = page.locator("#transcript")
    await expect(transcript.locator(".msg.user .text")).to_have_text(
        "Do we have any mice in stock?"
    )
    await expect(transcript.locator('.tool-card[data-tool="check_inventory"]')).to_be_visible()
    await page.locator("#resume-session").click()
    await shot.wait_until_connected(page)
    assert await page.locator("#session-id").input_value() == first
    await expect(page.locator("#messages .msg.user .text")).to_have_text(
        "Do we have any mice in stock?"
    )


async def test_a_message_with_html_shows_as_literal_text(watched: Watched, server_url: str) -> None:
    page = watched.page
    session_id = await open_chat(page, f"{server_url}/")
    await shot.ask(page, XSS)

    await expect(page.locator("#messages .msg.user .text")).to_have_text(XSS)
    await expect(page.get_by_text(XSS, exact=True)).to_be_visible()
    await expect(page.locator("#messages img")).to_have_count(0)

    await page.locator(f'#session-list li[data-session-id="{session_id}"] button').click()
    await expect(page.locator("#transcript .msg.user .text")).to_have_text(XSS)
    await page.reload()
    await shot.wait_until_connected(page)
    await expect(page.locator("#messages .msg.user .text")).to_have_text(XSS)
    await expect(page.locator("img")).to_have_count(0)
    assert watched.dialogs == []


async def test_when_the_server_has_an_api_key_the_page_asks_for_it_and_then_works(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path
) -> None:
    page = watched.page
    url = start_server(server_factory, tmp_path, api_key="open-sesame")
    await page.goto(f"{url}/")
    dialog = page.locator("#key-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#key-rejected")).to_be_hidden()

    await page.locator("#api-key").fill("wrong")
    await page.locator("#api-key").press("Enter")
    await expect(page.locator("#key-rejected")).to_be_visible()
    await page.locator("#api-key").fill("open-sesame")
    await page.get_by_role("button", name="Use key").click()
    await expect(dialog).to_be_hidden()

    await shot.wait_until_connected(page)
    session_id = await page.locator("#session-id").input_value()
    # The key rides in the subprotocols, never in the URL that proxies log.
    assert "open-sesame" not in watched.sockets[-1]
    await shot.ask(page, "What time is it?")
    await expect(page.locator(f'#session-list li[data-session-id="{session_id}"]')).to_be_visible()
    assert len(await stored_events(url, session_id, key="open-sesame")) > 0

    await page.reload()
    await shot.wait_until_connected(page)
    await expect(dialog).to_be_hidden()
    assert watched.dialogs == []


async def test_the_page_reconnects_to_the_same_session_after_the_server_restarts(
    watched: Watched, tmp_path: Path
) -> None:
    page = watched.page
    settings = make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    server = BackgroundServer(settings).start()
    port = int(server.url.rsplit(":", 1)[1])
    try:
        session_id = await open_chat(page, f"{server.url}/")
        await shot.ask(page, "What time is it?")
        started = len(watched.of_type("session.started"))
    finally:
        server.stop()
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "reconnecting")
    await expect(page.locator("#conn-countdown")).to_have_text(re.compile(r"^ in \d+s$"))

    with BackgroundServer(settings, port=port):
        await expect(page.locator("#conn-status")).to_have_attribute(
            "data-state", "connected", timeout=15_000
        )
        assert await page.locator("#session-id").input_value() == session_id
        # The page may show "connected" before the new session.started frame is read.
        assert (await watched.nth_of("session.started", started + 1))["resumed"] is True
        await expect(page.locator("#messages .msg.user .text")).to_have_text("What time is it?")


async def test_on_a_phone_screen_the_panels_stack(watched: Watched, server_url: str) -> None:
    page = watched.page
    await page.set_viewport_size({"width": 390, "height": 844})
    await open_chat(page, f"{server_url}/")
    chat = await page.locator(".chat").bounding_box()
    sessions = await page.locator("#sessions").bounding_box()
    assert chat is not None and sessions is not None
    assert sessions["y"] >= chat["y"] + chat["height"]
    assert chat["width"] <= 390 and sessions["width"] <= 390


async def test_the_page_saves_a_screenshot_of_a_conversation(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path
) -> None:
    url = start_server(server_factory, tmp_path, local_llm_delay_ms=5)
    out = tmp_path / "screenshot.png"
    await shot.capture(watched.page, url, out)
    await expect(
        watched.page.locator('#messages .tool-card[data-tool="check_inventory"]')
    ).to_be_visible()
    header = out.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1280, 800)


async def test_an_error_frame_shows_its_code_and_message_and_the_chat_goes_on(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path
) -> None:
    page = watched.page
    await open_chat(page, start_server(server_factory, tmp_path, max_message_chars=20) + "/")
    await page.locator("#message").fill("x" * 21)
    await page.locator("#message").press("Enter")

    error = page.locator("#messages .msg.error")
    await expect(error.locator(".code")).to_have_text("message_too_large")
    await expect(error.locator(".text")).to_contain_text("at most 20")
    await expect(page.locator("#send")).to_be_enabled()
    await expect(page.locator("#stop")).to_be_disabled()
    await shot.ask(page, "What time is it?")


async def test_streaming_scrolls_along_only_when_the_reader_is_at_the_bottom(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path
) -> None:
    page = watched.page
    await page.set_viewport_size({"width": 1280, "height": 520})
    await open_chat(page, start_server(server_factory, tmp_path, local_llm_delay_ms=15) + "/")
    log = page.locator("#messages")
    at_bottom = "el => el.scrollHeight - el.scrollTop - el.clientHeight < 2"
    await shot.ask(page, "Hello!")
    await shot.ask(page, "Hello again!")
    assert await log.evaluate("el => el.scrollHeight > el.clientHeight")
    assert await log.evaluate(at_bottom)

    await page.locator("#message").fill("Hello once more!")
    await page.locator("#message").press("Enter")
    await expect(page.locator("#messages .msg.assistant.streaming")).to_be_visible()
    await log.evaluate("el => { el.scrollTop = 0; }")
    await expect(page.locator("#messages .msg.assistant.streaming")).to_have_count(0)
    assert await log.evaluate("el => el.scrollTop") == 0

    await shot.ask(page, "Thanks!")
    assert await log.evaluate(at_bottom)


@pytest.mark.timeout(90)
async def test_with_user_sign_in_the_page_takes_a_pasted_token_and_keeps_it_out_of_urls(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path
) -> None:
    page = watched.page
    url = start_server(
        server_factory, tmp_path, auth_jwt_secret=JWT_SECRET, api_key="the-service-key"
    )
    alice, bob = "00000000-0000-4000-8000-00000000a11c", "00000000-0000-4000-8000-000000000b0b"
    await page.goto(f"{url}/")
    await expect(page.locator("#key-title")).to_have_text("Sign in")
    await expect(page.locator("#supabase-sign-in")).to_be_hidden()
    await page.locator("#api-key").fill(hs256_token(alice, exp=1))
    await page.locator("#api-key").press("Enter")
    await expect(page.locator("#key-rejected")).to_be_visible()
    token = hs256_token(alice)
    await page.locator("#api-key").fill(token)
    await page.get_by_role("button", name="Use token").click()

    await shot.wait_until_connected(page)
    session_id = await page.locator("#session-id").input_value()
    assert token not in watched.sockets[-1] and "user_id" not in watched.sockets[-1]
    await expect(page.locator("#user-id")).to_have_value(alice)
    await shot.ask(page, "What time is it?")
    await expect(page.locator(f'#session-list li[data-session-id="{session_id}"]')).to_be_visible()

    async with httpx.AsyncClient(base_url=url) as http:
        for user, listed in ((alice, [session_id]), (bob, [])):
            headers = {"Authorization": f"Bearer {hs256_token(user)}"}
            sessions = (await http.get("/sessions", headers=headers)).json()
            assert [s["session_id"] for s in sessions] == listed


@pytest.mark.timeout(90)
async def test_with_a_supabase_anon_key_the_page_signs_in_with_email_and_password(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path, jwks_server: JwksServer
) -> None:
    page = watched.page
    url = start_server(
        server_factory,
        tmp_path,
        auth_jwt_secret=JWT_SECRET,
        supabase_url=jwks_server.base_url,
        supabase_anon_key=ANON_KEY,
    )
    await page.goto(f"{url}/")
    await expect(page.locator("#supabase-sign-in")).to_be_visible()
    await page.locator("#supabase-email").fill("ann@example.com")
    await page.locator("#supabase-password").fill("wrong")
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.locator("#supabase-error")).to_have_text("Invalid login credentials")
    await page.locator("#supabase-password").fill("correct horse")
    await page.locator("#supabase-password").press("Enter")

    await shot.wait_until_connected(page)
    await expect(page.locator("#user-id")).to_have_value("ann@example.com")
    started = watched.of_type("session.started")[-1]
    assert started["user_id"] == ACCOUNTS["ann@example.com"][1]


async def test_the_page_refuses_messages_by_the_rule_and_words_the_service_serves(
    watched: Watched, server_url: str
) -> None:
    page = watched.page
    await open_chat(page, f"{server_url}/")
    served = await page.evaluate("import('/vocabulary.js').then((m) => ({...m}))")
    assert served["ANSWER_END"] == vocabulary.ANSWER_END
    assert served["REFUSED_WHILE_ANSWERING"] == list(vocabulary.REFUSED_WHILE_ANSWERING)
    assert served["SESSION_ID_PATTERN"] == vocabulary.SESSION_ID_PATTERN
    assert served["SERVER_FRAME_TYPES"] == list(vocabulary.SERVER_FRAME_TYPES)
    frames = ENDS + GOES_ON
    in_page = await page.evaluate(
        "(frames) => import('/static/js/turn.js').then((m) => frames.map(m.refuses))", frames
    )
    assert in_page == [refuses(frame) for frame in frames]
    await expect(page.locator("#session-id")).to_have_attribute(
        "pattern", vocabulary.SESSION_ID_PATTERN
    )
