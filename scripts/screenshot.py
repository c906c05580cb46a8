"""Regenerate docs/screenshot.png: chat two questions on the web page and capture it at 1280x800.

    .venv/bin/python scripts/screenshot.py                         # starts its own server
    .venv/bin/python scripts/screenshot.py --url http://127.0.0.1:8000   # uses a running one

With its own server the model is the tests' OpenAI-format stand-in, scripted to answer in
Markdown (a tool call, a table, code) the way real models do; with `--url`, whatever that
server's model says. Drives Debian's Chromium (/usr/bin/chromium) through Playwright; no browser
is downloaded. The tests capture to a temporary file: docs/screenshot.png changes only when
this script is run on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from playwright.async_api import Browser, Page, Playwright, ViewportSize, async_playwright, expect

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "screenshot.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
WARM_UP = "Hello!"
QUESTIONS = ("Do we have any mice in stock?", "How do I start the server on another port?")
# What the stand-in model says, in order: the warm-up answer, the earlier session's summary,
# then the two questions (a tool call, then its Markdown answer; a Markdown answer with code).
SCRIPT_SUMMARY = "The user said hello and the assistant offered help."
SCRIPT_ANSWERS = (
    "Hello! How can I help you today?",
    """Yes, **wireless mice** are in stock:

| item | SKU | in stock | price |
| --- | --- | ---: | ---: |
| wireless mouse | `MS-100` | 42 | $19.99 |

Shall I reserve one for you?""",
    """Set `PORT` (and `HOST` to listen beyond this machine), then start it as usual:

```bash
PORT=9000 HOST=0.0.0.0 make run
```

- `make run` reads `.env` too
- the page is then at `http://<host>:9000/`""",
)


async def launch_chromium(playwright: Playwright) -> Browser:
    """Start the system Chromium headless."""
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


async def wait_until_connected(page: Page) -> None:
    """Wait for the page's socket to have started its session."""
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#send")).to_be_enabled()


async def ask(page: Page, text: str) -> None:
    """Send one message from the composer and wait for the whole answer."""
    answers = page.locator("#messages .msg.assistant")
    before = await answers.count()
    await page.locator("#message").fill(text)
    await page.locator("#message").press("Enter")
    await expect(answers).to_have_count(before + 1, timeout=15_000)
    await expect(page.locator("#messages .msg.assistant.streaming")).to_have_count(0)
    await expect(page.locator("#send")).to_be_enabled()


async def capture(page: Page, base_url: str, out: Path) -> None:
    """One earlier, summarised session in the list, then the two questions in a new one."""
    await page.goto(f"{base_url}/")
    await wait_until_connected(page)
    await ask(page, WARM_UP)
    earlier = await page.locator("#session-id").input_value()
    await page.locator("#new-session").click()
    await wait_until_connected(page)
    summary = page.locator(f'#session-list li[data-session-id="{earlier}"] .summary:not(.pending)')
    await expect(summary).to_be_visible(timeout=15_000)
    for question in QUESTIONS:
        await ask(page, question)
    await page.locator("#message").blur()
    out.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(out))


async def _run(url: str | None, out: Path) -> None:
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        page = await browser.new_page(viewport=VIEWPORT)
        try:
            if url:
                await capture(page, url.rstrip("/"), out)
            else:
                await _capture_on_own_server(page, out)
        finally:
            await browser.close()


async def _capture_on_own_server(page: Page, out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from app.background import BackgroundServer
    from app.config import Settings
    from tests.servers.openai_sse import OpenAIStandIn, split_evenly

    model = OpenAIStandIn().start()
    warm_up, in_stock, how_to = SCRIPT_ANSWERS
    model.answer_text(*split_evenly(warm_up, 6))
    model.answer_text(SCRIPT_SUMMARY)
    model.answer_tool_calls(("call_1", "check_inventory", '{"item": "mouse"}'))
    model.answer_text(*split_evenly(in_stock, 12))
    model.answer_text(*split_evenly(how_to, 20))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                llm_provider="openai",
                openai_base_url=model.base_url,
                openai_api_key="sk-stand-in",
                llm_model="stand-in-model",
                api_key=None,
                database_url=f"sqlite+aiosqlite:///{tmp}/screenshot.db",
            )
            with BackgroundServer(settings) as server:
                await capture(page, server.url, out)
    finally:
        model.stop()


def main() -> None:
    """Parse the command line and write the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", help="a running server (default: start one on a temporary database)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the PNG")
    args = parser.parse_args()
    asyncio.run(_run(args.url, args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
