// The conversation log, built from the session's frames (live and replayed): user messages as
// sent, waiting or refused; streamed answers; tool cards; errors and notices.

import { ANSWER_END } from "/vocabulary.js";
import { copyTarget, copyText, transcriptMarkdown } from "./copy.js";
import { el } from "./dom.js";
import { StreamRenderer } from "./markdown.js";
import {
  answerSource,
  errorBubble,
  findCard,
  finishBubble,
  messageBubble,
  noteLine,
  renderEvents,
  setAnswer,
  setToolResult,
  toolCard,
} from "./render.js";
import { refuses } from "./turn.js";

// Within this many pixels of the bottom counts as "at the bottom" for auto-scroll.
const STICK_PX = 48;
// A screen reader reads the start of a long answer; the rest is in the log.
const ANNOUNCE_CHARS = 600;
const clip = (text) => (text.length > ANNOUNCE_CHARS ? `${text.slice(0, ANNOUNCE_CHARS)}…` : text);

export class ChatLog {
  // message_id → the answer being drawn: its bubbles (split by tool cards) and the current one.
  #answers = new Map();
  // message_id → its user bubble; and the messages whose answer has not ended.
  #users = new Map();
  #open = new Set();
  // client_message_id → {bubble, frame}: sent (or to send), not yet acknowledged by the server.
  #pending = new Map();
  #waiting;

  /** `onStreaming(bool)` is told when answering starts and ends; `newId()` makes message ids. */
  constructor({ log, announcer, onStreaming, newId }) {
    Object.assign(this, { log, announcer, onStreaming, newId });
    this.lastSeq = 0;
    this.renderer = new StreamRenderer({ around: (change) => this.#stickWhile(change) });
    // Messages waiting behind an answer sit after it, so the answer's bubble stays last above them.
    this.#waiting = el("div", { className: "waiting-list" });
    log.append(this.#waiting);
    log.addEventListener("click", (event) => {
      const button = event.target.closest("button.copy-code, button.copy-answer");
      if (button) this.copy(button, copyTarget(button));
    });
  }

  /** True while an answer runs or a message waits for one. */
  get streaming() {
    return this.#open.size > 0;
  }

  /** Forget the conversation (another session is opening). */
  clear() {
    this.#answers.clear();
    this.#users.clear();
    this.#pending.clear();
    this.#setOpen(() => this.#open.clear());
    this.lastSeq = 0;
    this.#waiting.replaceChildren();
    this.log.replaceChildren(this.#waiting);
  }

  /** Show a message the user sends now; returns the frame to send (also kept to resend). */
  userMessage(text) {
    const frame = { type: "user.message", content: text, client_message_id: this.newId(), on_busy: "enqueue" };
    const bubble = messageBubble("user", text);
    bubble.classList.add("sending");
    this.#pending.set(frame.client_message_id, { bubble, frame });
    this.#placeUser(bubble, this.streaming);
    // Whoever sends wants to see the answer, wherever they had scrolled.
    this.log.scrollTop = this.log.scrollHeight;
    return frame;
  }

  /** The frames sent but not acknowledged, in order: to send again after a reconnect. */
  unacknowledged() {
    return [...this.#pending.values()].map((entry) => entry.frame);
  }

  /** Copy `text` for `button`, and say so on it and to screen readers. */
  async copy(button, text) {
    const copied = text !== null && (await copyText(text));
    button.dataset.label ??= button.textContent;
    button.textContent = copied ? "Copied" : "Copy failed";
    this.announce(copied ? "Copied to the clipboard" : "Could not copy");
    setTimeout(() => {
      button.textContent = button.dataset.label;
    }, 1500);
  }

  /** The conversation as Markdown. */
  transcript() {
    return transcriptMarkdown(this.log);
  }

  notice(text, kind = "") {
    this.#append(noteLine(text, kind));
    this.announce(text);
  }

  announce(text) {
    // Re-setting the same text would not be announced again; clear first.
    this.announcer.textContent = "";
    requestAnimationFrame(() => {
      this.announcer.textContent = text;
    });
  }

  /** Stored events of a session whose frames cannot be replayed (stored before `seq`). */
  showTranscript(events) {
    const holder = document.createElement("div");
    renderEvents(holder, events);
    this.log.insertBefore(holder, this.#waiting);
    holder.replaceWith(...holder.childNodes);
    this.log.scrollTop = this.log.scrollHeight;
  }

  /** This page stops following the session: answers still open will not finish here. */
  interrupted() {
    for (const answer of this.#answers.values()) {
      for (const bubble of answer.segments) this.#finish(bubble, "interrupted");
    }
    this.#answers.clear();
    this.#setOpen(() => this.#open.clear());
  }

  handle(frame) {
    // A replay may overlap what was already shown; seq tells.
    if (frame.seq) {
      if (frame.seq <= this.lastSeq) return undefined;
      this.lastSeq = frame.seq;
    }
    switch (frame.type) {
      case "user.message":
        return this.#userEcho(frame);
      case "assistant.delta":
        return this.#delta(frame);
      case "tool.call":
        return this.#toolCall(frame);
      case "tool.result":
        return this.#toolResult(frame);
      case ANSWER_END:
        return this.#done(frame);
      case "error":
        return this.#error(frame);
      default:
        return undefined;
    }
  }

  #userEcho(frame) {
    const mine = this.#pending.get(frame.client_message_id);
    this.#pending.delete(frame.client_message_id);
    const known = this.#users.get(frame.message_id);
    if (known || frame.duplicate) {
      // Sent twice (a resend after a reconnect): the first one is the message.
      if (mine && mine.bubble !== known) mine.bubble.remove();
      if (mine && !known) this.#users.set(frame.message_id, mine.bubble);
      mine?.bubble.classList.remove("sending");
      return;
    }
    const bubble = mine?.bubble ?? messageBubble("user", frame.content);
    bubble.classList.remove("sending");
    this.#users.set(frame.message_id, bubble);
    this.#setOpen(() => this.#open.add(frame.message_id));
    this.#placeUser(bubble, Boolean(frame.queued));
  }

  /** Put a user bubble in the log, or below the answers with a "waiting" mark. */
  #placeUser(bubble, waiting) {
    bubble.classList.toggle("waiting", waiting);
    const mark = bubble.querySelector(".wait-mark");
    if (waiting && !mark) bubble.append(el("span", { className: "wait-mark", text: "waiting" }));
    if (!waiting) mark?.remove();
    if (waiting) this.#stickWhile(() => this.#waiting.append(bubble));
    else if (bubble.parentNode !== this.log) this.#append(bubble);
  }

  /** The answer to `messageId`, started now if it was not: its question leaves the waiting list. */
  #answer(messageId) {
    let answer = this.#answers.get(messageId);
    if (!answer) {
      const question = this.#users.get(messageId);
      if (question?.classList.contains("waiting")) this.#placeUser(question, false);
      answer = { segment: null, segments: [] };
      this.#answers.set(messageId, answer);
      this.#setOpen(() => this.#open.add(messageId));
    }
    return answer;
  }

  #delta(frame) {
    const answer = this.#answer(frame.message_id);
    if (!answer.segment) {
      answer.segment = messageBubble("assistant");
      answer.segment.classList.add("streaming");
      answer.segment.setAttribute("aria-busy", "true");
      answer.segments.push(answer.segment);
      this.#append(answer.segment);
    }
    const source = answerSource(answer.segment) + frame.delta;
    setAnswer(answer.segment, source);
    this.renderer.update(answer.segment.querySelector(".text"), source);
  }

  #toolCall(frame) {
    // Text after a tool card goes in a new bubble below it; a notice does not split an answer.
    this.#answer(frame.message_id).segment = null;
    this.#append(toolCard(frame.name, frame.arguments, frame.call_id));
  }

  #toolResult(frame) {
    const card = findCard(this.log, frame.call_id);
    if (card) this.#stickWhile(() => setToolResult(card, frame.result));
  }

  #done(frame) {
    const answer = this.#answer(frame.message_id);
    if (answer.segments.length === 0) {
      answer.segments.push(messageBubble("assistant"));
      this.#append(answer.segments[0]);
    }
    // With a single bubble, the final text is authoritative (it is also what is stored), unless
    // it is empty because the server lost what had been streamed (an `interrupted` answer).
    if (answer.segments.length === 1 && (frame.content || frame.finish_reason === "stop")) {
      setAnswer(answer.segments[0], frame.content);
    }
    const last = answer.segments.length - 1;
    this.#stickWhile(() =>
      answer.segments.forEach((b, i) => {
        this.#finish(b, i === last ? frame.finish_reason : "stop");
      }),
    );
    this.#answers.delete(frame.message_id);
    this.#setOpen(() => this.#open.delete(frame.message_id));
    const ending = frame.finish_reason === "stop" ? "" : ` (${frame.finish_reason})`;
    this.announce(`Assistant${ending}: ${clip(frame.content) || "no answer"}`);
  }

  #error(frame) {
    this.#append(errorBubble(frame.code, frame.message));
    this.announce(`Error ${frame.code}: ${frame.message}`);
    // An error about no answer refuses the oldest message not yet acknowledged (frames are
    // answered in order); an answer's own errors are followed by its `assistant.done`.
    if (!refuses(frame)) return;
    const [oldest] = this.#pending.entries();
    if (!oldest) return;
    const [clientId, { bubble }] = oldest;
    this.#pending.delete(clientId);
    this.#placeUser(bubble, false);
    bubble.classList.replace("sending", "refused");
    bubble.append(el("span", { className: "wait-mark", text: `not sent: ${frame.code}` }));
  }

  /** Draw a bubble's final Markdown, then mark it finished. */
  #finish(bubble, finishReason) {
    this.renderer.flush(bubble.querySelector(".text"), answerSource(bubble));
    finishBubble(bubble, finishReason);
  }

  #setOpen(change) {
    const was = this.streaming;
    change();
    if (was !== this.streaming) this.onStreaming(this.streaming);
  }

  #append(node) {
    this.#stickWhile(() => this.log.insertBefore(node, this.#waiting));
  }

  /** Run a change to the log, keeping it scrolled to the bottom only if it was there. */
  #stickWhile(change) {
    const { scrollTop, scrollHeight, clientHeight } = this.log;
    const atBottom = scrollHeight - scrollTop - clientHeight <= STICK_PX;
    change();
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }
}
