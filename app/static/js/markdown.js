// Markdown for assistant messages: marked (raw HTML off) → DOMPurify → DOM, never innerHTML of
// unsanitised text. Code blocks get a language label and a copy button; tables scroll sideways.

import { Marked } from "../vendor/marked.esm.js";
import DOMPurify from "../vendor/purify.es.mjs";
import { el } from "./dom.js";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

const marked = new Marked({
  gfm: true,
  renderer: {
    // Raw HTML in an answer is shown as the text it is, not parsed.
    html({ text, block }) {
      return block ? `<p>${escapeHtml(text)}</p>` : escapeHtml(text);
    },
    // An image from a model would load a URL the model chose; show it as a link instead.
    image({ href, text }) {
      return `<a href="${escapeHtml(href ?? "")}">${escapeHtml(text || href || "image")}</a>`;
    },
  },
});

const PURIFY = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: ["style", "img", "form", "button", "textarea", "select"],
  FORBID_ATTR: ["style", "id", "name"],
};

// Links leave the page in a new tab without handing it `window.opener` or a referrer.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName !== "A") return;
  if (node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

/** Sanitised DOM for `source`: a fragment ready to insert. */
export function markdownFragment(source) {
  const fragment = DOMPurify.sanitize(marked.parse(source), PURIFY);
  for (const pre of fragment.querySelectorAll("pre")) decorateCode(pre);
  for (const table of fragment.querySelectorAll("table")) wrap(table, el("div", { className: "table-wrap" }));
  return fragment;
}

// Past this many characters an answer's off-screen blocks skip layout (see markdown.css).
const LONG_CHARS = 50_000;

// What has been drawn into a streaming target: the source of its settled blocks, and the nodes
// of the last block, which is drawn again as it grows.
const drawn = new WeakMap();

/** Replace `target`'s content with `source` rendered. */
export function renderMarkdown(target, source) {
  drawn.delete(target);
  target.classList.toggle("long", source.length > LONG_CHARS);
  target.replaceChildren(markdownFragment(source));
}

/**
 * Render a growing `source` into `target`, drawing again only the blocks after the ones that are
 * settled (followed by another block), so a frame costs the answer's last block, not the whole.
 * At most `budget` characters are settled per call: false means call again, there is more.
 * Reference-style links defined further down show as text until a whole render.
 */
export function renderGrowing(target, source, budget = Infinity) {
  const state = drawn.get(target);
  if (!state || !source.startsWith(state.settled)) {
    renderMarkdown(target, "");
    drawn.set(target, { settled: "", live: [] });
    return renderGrowing(target, source, budget);
  }
  const tail = source.slice(state.settled.length);
  // Within the budget if it holds a settled block, else the whole tail (one huge block).
  const early = tail.length > budget ? settledPart(tail.slice(0, budget)) : null;
  const settled = early || settledPart(tail);
  if (settled === null) {
    renderMarkdown(target, source);
    return true;
  }
  for (const node of state.live) node.remove();
  state.live = [];
  if (settled) target.append(markdownFragment(settled));
  state.settled += settled;
  target.classList.toggle("long", source.length > LONG_CHARS);
  if (early) return false;
  const live = markdownFragment(tail.slice(settled.length));
  state.live = [...live.childNodes];
  target.append(live);
  return true;
}

/** The start of `text` made of whole blocks followed by another block; null if unsure. */
function settledPart(text) {
  const tokens = marked.lexer(text);
  const last = tokens.findLastIndex((token) => token.type !== "space");
  const settled = tokens.slice(0, Math.max(last, 0)).map((token) => token.raw).join("");
  // The lexer normalises line ends; when its pieces are not the text's own, draw it whole.
  return text.startsWith(settled) ? settled : null;
}

// The most new text one frame settles while a long answer draws.
const FRAME_BUDGET = 48_000;

function decorateCode(pre) {
  const code = pre.querySelector("code");
  const lang = /(?:^|\s)language-(\S+)/.exec(code?.className ?? "")?.[1] ?? "";
  const head = el("div", { className: "code-head" }, [
    el("span", { className: "code-lang", text: lang || "text" }),
    el("button", {
      className: "copy-code",
      text: "Copy",
      attrs: { type: "button", "aria-label": lang ? `Copy ${lang} code` : "Copy code" },
    }),
  ]);
  wrap(pre, el("div", { className: "code-block" }, [head]));
}

/** Put `node` at the end of `wrapper`, where `node` was. */
function wrap(node, wrapper) {
  node.replaceWith(wrapper);
  wrapper.append(node);
}

/**
 * Re-renders streaming Markdown at most once per animation frame, and less often when one
 * render is slow (a long answer), so rendering takes at most about a third of the main thread.
 */
export class StreamRenderer {
  #dirty = new Map();
  #frame = 0;
  #notBefore = 0;

  /** `around(change)` wraps each batch of renders (the log uses it to keep its scroll). */
  constructor({ around = (change) => change() } = {}) {
    this.around = around;
  }

  /** `target` should show `source`, soon. */
  update(target, source) {
    this.#dirty.set(target, source);
    this.#frame ||= requestAnimationFrame((now) => this.#tick(now));
  }

  /** Draw `target`'s final text: now and whole when short (exact), else over the next frames. */
  flush(target, source) {
    this.#dirty.delete(target);
    if (source.length > LONG_CHARS) this.update(target, source);
    else {
      renderMarkdown(target, source);
      this.#count(target);
    }
  }

  #tick(now) {
    this.#frame = 0;
    if (now < this.#notBefore) {
      this.#frame = requestAnimationFrame((later) => this.#tick(later));
      return;
    }
    const batch = [...this.#dirty];
    this.#dirty.clear();
    const started = performance.now();
    this.around(() => {
      for (const [target, source] of batch) {
        const complete = renderGrowing(target, source, FRAME_BUDGET);
        this.#count(target);
        if (!complete && !this.#dirty.has(target)) this.update(target, source);
      }
    });
    this.#notBefore = performance.now() + 2 * (performance.now() - started);
  }

  /** Count the renders of `target` (its `data-renders`, which the tests read). */
  #count(target) {
    target.dataset.renders = String(Number(target.dataset.renders ?? 0) + 1);
  }
}
