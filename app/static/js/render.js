// DOM builders for the conversation, tool cards and the sessions list. Text from users and the
// server goes in as text nodes; assistant answers are Markdown, rendered by markdown.js.

import { el } from "./dom.js";
import { renderMarkdown } from "./markdown.js";

export { el };

const FINISH_LABELS = {
  cancelled: "stopped (cancelled)",
  error: "ended by an error",
  length: "cut off (length)",
  interrupted: "interrupted (connection lost)",
};

// Each answer bubble's Markdown source, for "copy answer" and the transcript.
const sources = new WeakMap();

/** JSON indented for reading; anything JSON cannot show as itself. */
export function formatJson(value) {
  return JSON.stringify(value, null, 2) ?? String(value);
}

function preview(value, limit = 60) {
  const flat = JSON.stringify(value) ?? String(value);
  return flat.length > limit ? `${flat.slice(0, limit - 1)}…` : flat;
}

/** A user bubble (plain text in a `.text` span) or an assistant one (Markdown in a `.text` div). */
export function messageBubble(role, content = "") {
  const label = role === "user" ? "You" : "Assistant";
  const text =
    role === "user"
      ? el("span", { className: "text", text: content })
      : el("div", { className: "text md" });
  const bubble = el("article", { className: `msg ${role}`, attrs: { "aria-label": label } }, [
    el("span", { className: "who", text: label }),
    text,
  ]);
  if (role !== "user") setAnswer(bubble, content, { render: true });
  return bubble;
}

/** Record an answer bubble's Markdown; `render` also draws it now (else the caller schedules it). */
export function setAnswer(bubble, source, { render = false } = {}) {
  sources.set(bubble, source);
  if (render) renderMarkdown(bubble.querySelector(".text"), source);
}

/** The Markdown an answer bubble shows. */
export function answerSource(bubble) {
  return sources.get(bubble) ?? "";
}

/** Mark a finished assistant bubble: empty answers say so, unusual endings are noted. */
export function finishBubble(bubble, finishReason) {
  bubble.classList.remove("streaming");
  bubble.removeAttribute("aria-busy");
  bubble.querySelector(".finish")?.remove();
  const text = bubble.querySelector(".text");
  if (!text.textContent) text.replaceChildren(el("em", { className: "empty", text: "(no answer)" }));
  if (finishReason && finishReason !== "stop") {
    const label = FINISH_LABELS[finishReason] ?? finishReason;
    bubble.append(el("span", { className: `finish finish-${finishReason}`, text: label }));
  }
  if (answerSource(bubble) && !bubble.querySelector(".copy-answer")) {
    bubble.append(
      el("div", { className: "msg-actions" }, [
        el("button", {
          className: "copy-answer",
          text: "Copy",
          attrs: { type: "button", "aria-label": "Copy answer as Markdown" },
        }),
      ]),
    );
  }
}

export function errorBubble(code, message) {
  return el("article", { className: "msg error", attrs: { "aria-label": "Error" } }, [
    el("strong", { className: "code", text: code }),
    el("span", { className: "text", text: message }),
  ]);
}

export function noteLine(text, className = "") {
  return el("p", { className: `note ${className}`.trim(), text });
}

/** A collapsible card for one tool call; `setToolResult` fills in its result. */
export function toolCard(name, args, callId) {
  const result = el("pre", { className: "json result", text: "running…" });
  const summary = el("summary", {}, [
    el("span", { className: "tool-name", text: name }),
    el("code", { className: "tool-args", text: preview(args) }),
    el("span", { className: "tool-preview", text: "…" }),
  ]);
  return el(
    "details",
    { className: "tool-card", attrs: { "data-tool": name, "data-call-id": callId ?? "" } },
    [
      summary,
      el("div", { className: "tool-body" }, [
        el("span", { className: "label", text: "arguments" }),
        el("pre", { className: "json args", text: formatJson(args) }),
        el("span", { className: "label", text: "result" }),
        result,
      ]),
    ],
  );
}

export function setToolResult(card, value) {
  card.classList.add("has-result");
  card.querySelector(".result").textContent = formatJson(value);
  card.querySelector(".tool-preview").textContent = `→ ${preview(value, 48)}`;
}

/** The tool card of `callId` in `container`, if it is there. */
export function findCard(container, callId) {
  return [...container.querySelectorAll(".tool-card")].find((c) => c.dataset.callId === callId);
}

/**
 * Render stored events (GET /sessions/{id}/events) into a container.
 * `notes` adds the session's start/end/summary events as small lines (transcript view).
 */
export function renderEvents(container, events, { notes = false } = {}) {
  for (const event of events) {
    const meta = event.metadata ?? {};
    switch (event.event_type) {
      case "user_message":
        container.append(messageBubble("user", event.content));
        break;
      case "assistant_message": {
        const bubble = messageBubble("assistant", event.content);
        finishBubble(bubble, meta.finish_reason);
        container.append(bubble);
        break;
      }
      case "tool_call":
        container.append(
          toolCard(meta.name ?? "tool", meta.arguments ?? parseJson(event.content), meta.call_id),
        );
        break;
      case "tool_result": {
        const value = "result" in meta ? meta.result : parseJson(event.content);
        const card = findCard(container, meta.call_id) ?? toolCard(meta.name ?? "tool", {}, meta.call_id);
        if (!card.isConnected) container.append(card);
        setToolResult(card, value);
        break;
      }
      case "error":
        container.append(errorBubble(meta.code ?? "error", event.content));
        break;
      default:
        if (notes) container.append(noteLine(systemNote(event), event.event_type));
    }
  }
}

function systemNote(event) {
  const when = formatTime(event.created_at);
  if (event.event_type === "session_start") {
    return `${event.metadata?.resumed ? "Resumed" : "Started"} · ${when}`;
  }
  if (event.event_type === "session_end") return `Disconnected · ${when}`;
  if (event.event_type === "summary") return `Summary: ${event.content}`;
  return `${event.event_type}: ${event.content}`;
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function formatTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/** One row of the sessions list, as a button that opens its transcript. */
export function sessionItem(session, { current }) {
  const turns = session.turns ?? 0;
  const button = el("button", { className: "session-item", attrs: { type: "button" } }, [
    el("span", { className: "row" }, [
      el("code", {
        className: "sid",
        text: session.session_id.slice(0, 8),
        attrs: { title: session.session_id },
      }),
      el("span", { className: `badge ${session.status}`, text: session.status }),
      ...(current ? [el("span", { className: "badge current", text: "this chat" })] : []),
    ]),
    el("span", { className: "meta" }, [
      el("span", { text: session.user_id }),
      el("span", { text: formatTime(session.start_time) }),
      el("span", { text: formatDuration(session.duration_seconds) }),
      el("span", { text: `${turns} ${turns === 1 ? "turn" : "turns"}` }),
    ]),
    el("span", {
      className: session.summary ? "summary" : "summary pending",
      text: summaryText(session),
    }),
  ]);
  const attrs = { "data-session-id": session.session_id, "data-status": session.status };
  return el("li", { attrs }, [button]);
}

/** A session's summary, or what to show while it has none. */
export function summaryText(session) {
  return session.summary || (session.status === "active" ? "In progress" : "No summary yet");
}
