"""Markdown answers on the web page, in real Chromium: rendered, copyable, streamed, and safe."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from tests.pages import ROOT, ServerFactory, Watched, open_chat, shot, start_openai_server
from tests.servers.openai_sse import OpenAIStandIn, split_evenly

pytestmark = pytest.mark.browser

PYTHON = 'def greet(name):\n    return f"Hello, {name}!"'
SHELL = "pip install -r requirements.txt\nmake run"
ANSWER = f"""## Getting started

Three steps:

1. Install **the tools**
2. Run the *server*
3. Open `http://127.0.0.1:8000`

| setting | default |
| --- | --- |
| `PORT` | 8000 |
| `HOST` | 127.0.0.1 |

```python
{PYTHON}
```

```bash
{SHELL}
```

See [the docs](https://example.com/docs).
"""
HOSTILE = """# Hostile

<script>window.pwned = "script"</script>

<img src=x onerror="window.pwned = 'img'">

Inline <b onmouseover="window.pwned = 'b'">bold</b> and
<iframe src="javascript:window.pwned='iframe'"></iframe>

[click me](javascript:window.pwned='link') and [shout](JAVASCRIPT:window.pwned='LINK')
and [data](data:text/html,<script>window.pwned='data'</script>)

![picture](x" onerror="window.pwned='image')

<svg onload="window.pwned='svg'"></svg>

```html
<img src=x onerror="window.pwned='fence'">
```
"""


def answer(page: Page) -> Locator:
    """The last assistant bubble's rendered Markdown."""
    return page.locator("#messages .msg.assistant .text.md").last


async def test_a_markdown_answer_renders_as_headings_lists_tables_and_labelled_code(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_text(*split_evenly(ANSWER, 40))
    page = watched.page
    await open_chat(page, start_openai_server(server_factory, tmp_path, openai_server) + "/")
    await shot.ask(page, "**How** do I `start`?")

    md = answer(page)
    await expect(md.locator("h2")).to_have_text("Getting started")
    await expect(md.locator("ol > li")).to_have_text(
        ["Install the tools", "Run the server", "Open http://127.0.0.1:8000"]
    )
    await expect(md.locator("ol strong")).to_have_text("the tools")
    await expect(md.locator("table th")).to_have_text(["setting", "default"])
    await expect(md.locator("table tbody tr")).to_have_count(2)
    await expect(md.locator(".code-block .code-lang")).to_have_text(["python", "bash"])
    await expect(md.locator(".code-block pre code")).to_have_text([PYTHON, SHELL])
    link = md.locator("a", has_text="the docs")
    await expect(link).to_have_attribute("href", "https://example.com/docs")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(link).to_have_attribute("target", "_blank")
    assert "```" not in await md.inner_text() and "| ---" not in await md.inner_text()
    # The user's own Markdown stays the text they typed.
    user = page.locator("#messages .msg.user .text")
    await expect(user).to_have_text("**How** do I `start`?")
    await expect(user.locator("strong, code")).to_have_count(0)


async def test_copy_buttons_put_the_code_the_answer_and_the_transcript_on_the_clipboard(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_text(*split_evenly(ANSWER, 7))
    page = watched.page
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await open_chat(page, start_openai_server(server_factory, tmp_path, openai_server) + "/")
    await shot.ask(page, "How do I start?")
    clipboard = "() => navigator.clipboard.readText()"

    copy_python = page.get_by_role("button", name="Copy python code")
    await copy_python.click()
    await expect(copy_python).to_have_text("Copied")
    assert await page.evaluate(clipboard) == PYTHON
    await expect(page.locator("#announcer")).to_have_text("Copied to the clipboard")
    await page.get_by_role("button", name="Copy bash code").press("Enter")
    assert await page.evaluate(clipboard) == SHELL

    await page.get_by_role("button", name="Copy answer as Markdown").click()
    assert await page.evaluate(clipboard) == ANSWER
    await page.get_by_role("button", name="Copy transcript").click()
    transcript = await page.evaluate(clipboard)
    assert transcript.startswith("**You:**\n\nHow do I start?\n\n---\n\n**Assistant:**\n\n")
    assert ANSWER in transcript


async def test_the_answer_renders_progressively_at_most_once_per_frame(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_slowly("- item\n", count=60, interval=0.02)
    page = watched.page
    url = start_openai_server(server_factory, tmp_path, openai_server, ws_delta_flush_ms=0)
    await open_chat(page, url + "/")
    await page.locator("#message").fill("List things")
    await page.locator("#message").press("Enter")

    # Checked in one step in the page: list items are on screen while the answer still streams.
    await page.wait_for_function(
        """() => {
          const bubble = document.querySelector("#messages .msg.assistant");
          const items = bubble?.querySelectorAll("li").length ?? 0;
          return bubble?.classList.contains("streaming") && items >= 3;
        }"""
    )
    await expect(page.locator("#messages .msg.assistant.streaming")).to_have_count(0)
    await expect(answer(page).locator("li")).to_have_count(60)
    renders = int(await answer(page).get_attribute("data-renders") or 0)
    deltas = len(watched.of_type("assistant.delta"))
    # Re-rendered as it streamed (more than the final render), never more than once a delta.
    assert renders > 1, renders
    assert renders <= deltas + 1, (renders, deltas)


async def test_half_written_fences_and_tables_render_sensibly(
    watched: Watched, server_url: str
) -> None:
    page = watched.page
    await open_chat(page, f"{server_url}/")
    rendered = await page.evaluate(
        """async () => {
          const { markdownFragment } = await import("/static/js/markdown.js");
          const shape = (source) => {
            const box = document.createElement("div");
            box.append(markdownFragment(source));
            return {
              code: [...box.querySelectorAll("pre code")].map((c) => c.textContent),
              lang: [...box.querySelectorAll(".code-lang")].map((c) => c.textContent),
              cells: box.querySelectorAll("td, th").length,
              text: box.textContent,
            };
          };
          return {
            fence: shape("Here:\\n\\n```js\\nconst a = 1;\\nconst b"),
            head: shape("| a | b |"),
            table: shape("| a | b |\\n| --- | --- |\\n| 1 |"),
          };
        }"""
    )
    assert rendered["fence"]["code"] == ["const a = 1;\nconst b\n"]
    assert rendered["fence"]["lang"] == ["js"]
    assert rendered["head"]["cells"] == 0 and "| a | b |" in rendered["head"]["text"]
    assert rendered["table"]["cells"] == 4


async def test_many_updates_in_one_frame_render_once(watched: Watched, server_url: str) -> None:
    page = watched.page
    await open_chat(page, f"{server_url}/")
    renders = await page.evaluate(
        """async () => {
          const { StreamRenderer } = await import("/static/js/markdown.js");
          const renderer = new StreamRenderer();
          const target = document.createElement("div");
          let source = "";
          for (let i = 0; i < 100; i++) renderer.update(target, (source += `- item ${i}\\n`));
          const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
          await frame();
          await frame();
          return { renders: target.dataset.renders, items: target.querySelectorAll("li").length };
        }"""
    )
    assert renders == {"renders": "1", "items": 100}


async def test_drawing_a_growing_answer_block_by_block_ends_as_the_whole_render(
    watched: Watched, server_url: str
) -> None:
    page = watched.page
    await open_chat(page, f"{server_url}/")
    mismatches = await page.evaluate(
        """async ([source, budgets]) => {
          const { markdownFragment, renderGrowing } = await import("/static/js/markdown.js");
          const whole = document.createElement("div");
          whole.append(markdownFragment(source));
          const mismatches = [];
          for (const [step, budget] of budgets) {
            const target = document.createElement("div");
            for (let end = step; end < source.length + step; end += step) {
              while (!renderGrowing(target, source.slice(0, end), budget));
            }
            if (target.innerHTML !== whole.innerHTML) mismatches.push([step, budget]);
          }
          return mismatches;
        }""",
        [ANSWER * 3, [[1, 10_000_000], [7, 10_000_000], [23, 64], [500, 40]]],
    )
    assert mismatches == []


async def test_hostile_markdown_executes_nothing_live_in_the_transcript_and_after_reload(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_text(*split_evenly(HOSTILE, 25))
    page = watched.page
    session_id = await open_chat(
        page, start_openai_server(server_factory, tmp_path, openai_server) + "/"
    )
    await shot.ask(page, "Be nasty")

    for view in ("#messages", "#transcript"):
        if view == "#transcript":
            await page.locator(f'#session-list li[data-session-id="{session_id}"] button').click()
        md = page.locator(f"{view} .msg.assistant .text.md").last
        await expect(md.locator("h1")).to_have_text("Hostile")
        await expect(md.locator("script, img, iframe, svg, [onerror], [onload]")).to_have_count(0)
        await expect(md.locator("[onmouseover], [style]")).to_have_count(0)
        await expect(md.locator(".code-block code")).to_have_text(
            "<img src=x onerror=\"window.pwned='fence'\">"
        )
        assert "<script>" in await md.inner_text()
        hrefs = await md.locator("a[href]").evaluate_all("links => links.map((a) => a.href)")
        assert all(href.startswith(("https:", "http:")) for href in hrefs), hrefs
        # The links that lost their javascript: URL do nothing when clicked.
        for link in await md.locator("a:not([href])").all():
            await link.click()
        await md.locator("p", has_text="Inline").hover()
    await page.reload()
    await shot.wait_until_connected(page)
    await expect(answer(page).locator("h1")).to_have_text("Hostile")
    assert await page.evaluate("() => window.pwned") is None
    assert watched.dialogs == []


@pytest.mark.timeout(120)
async def test_a_one_megabyte_answer_renders_and_the_page_stays_usable(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path, openai_server: OpenAIStandIn
) -> None:
    block = "### Part {i}\n\n- one\n- two\n\n| a | b |\n| --- | --- |\n| {i} | x |\n\n"
    block += "```\ncode {i}\n```\n\n"
    pieces = [block.format(i=i) + "word " * 160 + "\n\n" for i in range(1200)]
    big = "".join(pieces)
    assert len(big) >= 1_000_000
    openai_server.answer_text(*pieces)
    page = watched.page
    url = start_openai_server(server_factory, tmp_path, openai_server, ws_delta_flush_ms=0)
    await open_chat(page, url + "/")
    await page.evaluate(
        """() => {
          window.longest = 0;
          new PerformanceObserver((list) => {
            for (const task of list.getEntries()) {
              window.longest = Math.max(window.longest, task.duration);
            }
          }).observe({ type: "longtask" });
        }"""
    )
    await page.locator("#message").fill("Write a lot")
    await page.locator("#message").press("Enter")
    await expect(page.locator("#messages .msg.assistant.streaming")).to_be_visible()
    # Typing while it streams: the composer keeps working.
    await page.locator("#message").fill("still here")
    await expect(page.locator("#message")).to_have_value("still here")

    done = await watched.nth_of("assistant.done", 1, timeout=60)
    assert done["content"] == big
    await expect(page.locator("#messages .msg.assistant.streaming")).to_have_count(
        0, timeout=60_000
    )
    # A long answer finishes drawing over several frames, a slice each.
    await expect(answer(page).locator("h3")).to_have_count(1200, timeout=60_000)
    await expect(answer(page).locator("table")).to_have_count(1200)
    renders = int(await answer(page).get_attribute("data-renders") or 0)
    deltas = len(watched.of_type("assistant.delta"))
    longest = await page.evaluate("() => window.longest")
    print(f"1 MB answer: {deltas} delta frames, {renders} renders, longest task {longest:.0f} ms")
    await page.locator("#message").press("Enter")
    await expect(page.locator("#messages .msg.user .text").last).to_have_text("still here")


async def test_tool_cards_show_indented_json_collapsed(watched: Watched, server_url: str) -> None:
    page = watched.page
    await open_chat(page, f"{server_url}/")
    await shot.ask(page, "Do we have any mice in stock?")
    call = watched.of_type("tool.call")[-1]
    result = watched.of_type("tool.result")[-1]
    card = page.locator('#messages .tool-card[data-tool="check_inventory"]')
    await expect(card).not_to_have_attribute("open", "")
    await expect(card.locator(".args")).to_be_hidden()
    await card.locator("summary").press("Enter")
    await expect(card.locator(".args")).to_have_text(json.dumps(call["arguments"], indent=2))
    await expect(card.locator(".result")).to_have_text(json.dumps(result["result"], indent=2))


async def test_dark_mode_follows_the_system_setting(
    watched: Watched, server_factory: ServerFactory, tmp_path: Path, openai_server: OpenAIStandIn
) -> None:
    openai_server.answer_text("```py\nprint(1)\n```\n")
    page = watched.page
    await open_chat(page, start_openai_server(server_factory, tmp_path, openai_server) + "/")
    await shot.ask(page, "Code please")
    background = "el => getComputedStyle(el).backgroundColor"
    block = page.locator("#messages .code-block")
    await page.emulate_media(color_scheme="light")
    light = (await page.locator("body").evaluate(background), await block.evaluate(background))
    await page.emulate_media(color_scheme="dark")
    dark = (await page.locator("body").evaluate(background), await block.evaluate(background))
    assert light == ("rgb(245, 246, 248)", "rgb(243, 244, 247)")
    assert dark == ("rgb(17, 19, 23)", "rgb(21, 24, 30)")


def test_the_vendored_files_are_the_ones_vendored_md_records() -> None:
    vendor = ROOT / "app" / "static" / "vendor"
    record = (vendor / "VENDORED.md").read_text(encoding="utf-8")
    for name in ("marked.esm.js", "purify.es.mjs"):
        digest = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
        assert f"| `{name}` |" in record and digest in record, name
