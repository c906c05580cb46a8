// The sessions panel: the list, a read-only transcript of one session, and "resume".

import { ApiError, KeyRefused, listEvents, listSessions } from "./api.js";
import { el, formatDuration, formatTime, renderEvents, sessionItem, summaryText } from "./render.js";

// The summary is written in the background after a disconnect; look again a few times.
const POLL_AFTER_END_MS = [600, 1500, 3000, 5000];

export class SessionsPanel {
  #polls = [];
  #openId = null;
  #sessions = new Map();
  #latest = 0;

  /** `currentId()` names the chat's session; `onResume(id)` reconnects the chat to another. */
  constructor({ root, currentId, onResume }) {
    this.currentId = currentId;
    this.onResume = onResume;
    this.list = root.querySelector("#session-list");
    this.status = root.querySelector("#sessions-status");
    this.listView = root.querySelector("#sessions-list-view");
    this.transcript = root.querySelector("#transcript");
    this.transcriptTitle = root.querySelector("#transcript-title");
    this.transcriptMeta = root.querySelector("#transcript-meta");
    this.transcriptBody = root.querySelector("#transcript-body");
    root.querySelector("#refresh-sessions").addEventListener("click", () => this.refresh());
    root.querySelector("#close-transcript").addEventListener("click", () => this.closeTranscript());
    root.querySelector("#resume-session").addEventListener("click", () => {
      const id = this.#openId;
      this.closeTranscript();
      this.onResume(id);
    });
  }

  async refresh() {
    const request = ++this.#latest;
    if (!this.list.children.length) this.status.textContent = "Loading…";
    try {
      const sessions = await listSessions(50);
      // Refreshes overlap (after each answer, while polling); only the newest may draw.
      if (request !== this.#latest) return;
      this.#sessions = new Map(sessions.map((s) => [s.session_id, s]));
      this.list.replaceChildren(
        ...sessions.map((s) => sessionItem(s, { current: s.session_id === this.currentId() })),
      );
      for (const item of this.list.querySelectorAll("li")) {
        const open = () => this.openTranscript(item.dataset.sessionId);
        item.querySelector("button").addEventListener("click", open);
      }
      this.status.textContent = sessions.length ? "" : "No sessions yet.";
    } catch (error) {
      if (request === this.#latest) this.status.textContent = describe(error);
    }
  }

  /** Refresh a few times over the next seconds, while an ended session's summary is written. */
  pollAfterEnd() {
    for (const id of this.#polls) clearTimeout(id);
    this.#polls = POLL_AFTER_END_MS.map((ms) => setTimeout(() => this.refresh(), ms));
  }

  async openTranscript(sessionId) {
    this.#openId = sessionId;
    this.transcriptTitle.textContent = `Session ${sessionId.slice(0, 8)}`;
    this.transcriptTitle.title = sessionId;
    this.transcriptMeta.replaceChildren();
    this.transcriptBody.replaceChildren(el("p", { className: "note", text: "Loading…" }));
    this.listView.hidden = true;
    this.transcript.hidden = false;
    this.transcriptTitle.focus();
    try {
      const events = await listEvents(sessionId);
      if (this.#openId !== sessionId) return;
      const session = this.#sessions.get(sessionId);
      if (session) this.transcriptMeta.replaceChildren(...metaLines(session));
      this.transcriptBody.replaceChildren();
      renderEvents(this.transcriptBody, events, { notes: true });
    } catch (error) {
      this.transcriptBody.replaceChildren(el("p", { className: "note error", text: describe(error) }));
    }
  }

  closeTranscript() {
    const id = this.#openId;
    this.#openId = null;
    this.transcript.hidden = true;
    this.listView.hidden = false;
    const item = [...this.list.children].find((li) => li.dataset.sessionId === id);
    (item?.querySelector("button") ?? this.list.closest("section")).focus();
  }
}

function metaLines(session) {
  return [
    el("p", {
      className: "meta",
      text: [
        session.user_id,
        session.status,
        formatTime(session.start_time),
        formatDuration(session.duration_seconds),
      ].join(" · "),
    }),
    el("p", {
      className: "summary",
      text: summaryText(session),
    }),
  ];
}

function describe(error) {
  if (error instanceof KeyRefused) return "An API key is needed to list sessions.";
  if (error instanceof ApiError) return `Could not load: ${error.message}`;
  return "Could not reach the server.";
}
