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

/** Replace `target`'s content with `source` rendered. */
export function renderMarkdown(target, source) {
  target.classList.toggle("long", source.length > LONG_CHARS);
  target.replaceChildren(markdownFragment(source));
}

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
 * render is slow (a long answer), so rendering never takes more than about a quarter of the time.
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

  /** Render `target` now (its final text), dropping any pending render of it. */
  flush(target, source) {
    this.#dirty.delete(target);
    this.#render(target, source);
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
    this.around(() => batch.forEach(([target, source]) => this.#render(target, source)));
    this.#notBefore = performance.now() + 3 * (performance.now() - started);
  }

  #render(target, source) {
    renderMarkdown(target, source);
    target.dataset.renders = String(Number(target.dataset.renders ?? 0) + 1);
  }
}
