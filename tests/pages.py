"""Browser fixtures for the web page tests: Debian's headless Chromium, a watched page, helpers."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from playwright.async_api import Browser, Dialog, Page, WebSocket, async_playwright
from playwright.async_api import Error as PlaywrightError

from app.background import BackgroundServer
from app.config import Settings
from tests.conftest import make_settings
from tests.servers.openai_sse import OpenAIStandIn

ROOT = Path(__file__).resolve().parents[1]
ServerFactory = Callable[[Settings], BackgroundServer]


def _load_screenshot_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("screenshot", ROOT / "scripts" / "screenshot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shot = _load_screenshot_script()


class Watched:
    """A page with what it did on the side: dialogs opened, script errors, frames received."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.frames: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.sockets: list[str] = []
        self._arrived = asyncio.Event()
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("websocket", self._on_websocket)

    async def _on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def _on_websocket(self, ws: WebSocket) -> None:
        self.sockets.append(ws.url)
        ws.on("framereceived", self._on_frame)
        ws.on("framesent", lambda payload: self.sent.append(json.loads(payload)))

    def _on_frame(self, payload: str | bytes) -> None:
        self.frames.append(json.loads(payload))
        self._arrived.set()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """The frames of `kind` received so far, in order."""
        return [frame for frame in self.frames if frame.get("type") == kind]

    async def nth_of(self, kind: str, count: int, timeout: float = 15) -> dict[str, Any]:
        """The `count`-th frame of `kind` received, waiting until it has arrived."""
        async with asyncio.timeout(timeout):
            while len(self.of_type(kind)) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.of_type(kind)[count - 1]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Chromium for the whole run; a browser that cannot start fails the tests."""
    async with async_playwright() as playwright:
        try:
            chromium = await shot.launch_chromium(playwright)
        except PlaywrightError as exc:
            pytest.fail(f"Chromium did not start from {shot.CHROMIUM}: {exc}")
        yield chromium
        await chromium.close()


@pytest.fixture
async def watched(browser: Browser) -> AsyncIterator[Watched]:
    """A fresh browser context (its own storage) at 1280x800; fails on any script error."""
    context = await browser.new_context(viewport=shot.VIEWPORT)
    page = Watched(await context.new_page())
    yield page
    await context.close()
    assert page.errors == []


def start_server(server_factory: ServerFactory, tmp_path: Path, **overrides: Any) -> str:
    """A real server on a fresh SQLite database; returns its base URL."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'web.db'}"
    return server_factory(make_settings(database_url=database_url, **overrides)).url


def start_openai_server(
    server_factory: ServerFactory, tmp_path: Path, model: OpenAIStandIn, **overrides: Any
) -> str:
    """A real server whose model is the OpenAI-format stand-in; returns its base URL."""
    return start_server(
        server_factory,
        tmp_path,
        llm_provider="openai",
        openai_base_url=model.base_url,
        openai_api_key="sk-stand-in",
        llm_model="stand-in-model",
        llm_max_retries=0,
        llm_timeout_seconds=10,
        **overrides,
    )


@pytest.fixture
def server_url(server_factory: ServerFactory, tmp_path: Path) -> str:
    """A server whose local model streams a word every 10 ms."""
    return start_server(server_factory, tmp_path, local_llm_delay_ms=10)


async def open_chat(page: Page, url: str) -> str:
    """Open the page, wait for its session to start and return the session id."""
    await page.goto(url)
    await shot.wait_until_connected(page)
    return await page.locator("#session-id").input_value()
