// The conversation log: streamed answers, tool cards, errors and notices.

import { copyTarget, copyText, transcriptMarkdown } from "./copy.js";
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

// Within this many pixels of the bottom counts as "at the bottom" for auto-scroll.
const STICK_PX = 48;
// These errors leave the answer going (its `assistant.done` follows); any other ends the turn.
const ERRORS_BEFORE_DONE = ["busy", "llm_error"];

// A screen reader reads the start of a long answer; the rest is in the log.
const ANNOUNCE_CHARS = 600;
const clip = (text) => (text.length > ANNOUNCE_CHARS ? `${text.slice(0, ANNOUNCE_CHARS)}…` : text);

export class ChatLog {
  #answer = null;

  /** `onStreaming(bool)` is told when an answer starts and ends. */
  constructor({ log, announcer, onStreaming }) {
    Object.assign(this, { log, announcer, onStreaming });
    this.renderer = new StreamRenderer({ around: (change) => this.#stickWhile(change) });
    log.addEventListener("click", (event) => {
      const button = event.target.closest("button.copy-code, button.copy-answer");
      if (button) this.copy(button, copyTarget(button));
    });
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

  get streaming() {
    return this.#answer !== null;
  }

  clear() {
    this.log.replaceChildren();
    this.#setAnswer(null);
  }

  /** The user sent a message; an answer is now awaited. */
  userMessage(text) {
    this.log.append(messageBubble("user", text));
    // Whoever sends wants to see the answer, wherever they had scrolled.
    this.log.scrollTop = this.log.scrollHeight;
    this.#setAnswer({ messageId: null, segment: null, segments: [] });
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

  showTranscript(events) {
    this.clear();
    renderEvents(this.log, events);
    this.log.scrollTop = this.log.scrollHeight;
  }

  /** The connection dropped: an answer in flight will not finish here. */
  interrupted() {
    if (!this.#answer) return;
    for (const bubble of this.#answer.segments) this.#finish(bubble, "interrupted");
    this.#setAnswer(null);
  }

  handle(frame) {
    switch (frame.type) {
      case "assistant.delta":
        return this.#delta(frame);
      case "tool.call":
        return this.#toolCall(frame);
      case "tool.result":
        return this.#toolResult(frame);
      case "assistant.done":
        return this.#done(frame);
      case "error":
        return this.#error(frame);
      default:
        return undefined;
    }
  }

  #delta(frame) {
    const answer = this.#current(frame.message_id);
    if (!answer.segment || this.log.lastElementChild !== answer.segment) {
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
    this.#current(frame.message_id);
    this.#append(toolCard(frame.name, frame.arguments, frame.call_id));
  }

  #toolResult(frame) {
    const card = findCard(this.log, frame.call_id);
    if (card) this.#stickWhile(() => setToolResult(card, frame.result));
  }

  #done(frame) {
    const answer = this.#current(frame.message_id);
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
    this.#setAnswer(null);
    const ending = frame.finish_reason === "stop" ? "" : ` (${frame.finish_reason})`;
    this.announce(`Assistant${ending}: ${clip(frame.content) || "no answer"}`);
  }

  #error(frame) {
    this.#append(errorBubble(frame.code, frame.message));
    this.announce(`Error ${frame.code}: ${frame.message}`);
    if (this.#answer && !ERRORS_BEFORE_DONE.includes(frame.code)) {
      for (const bubble of this.#answer.segments) this.#finish(bubble, "error");
      this.#setAnswer(null);
    }
  }

  /** Draw a bubble's final Markdown now, then mark it finished. */
  #finish(bubble, finishReason) {
    this.renderer.flush(bubble.querySelector(".text"), answerSource(bubble));
    finishBubble(bubble, finishReason);
  }

  #current(messageId) {
    if (!this.#answer || (this.#answer.messageId && this.#answer.messageId !== messageId)) {
      this.#setAnswer({ messageId, segment: null, segments: [] });
    }
    this.#answer.messageId = messageId;
    return this.#answer;
  }

  #setAnswer(answer) {
    const was = this.streaming;
    this.#answer = answer;
    if (was !== this.streaming) this.onStreaming(this.streaming);
  }

  #append(node) {
    this.#stickWhile(() => this.log.append(node));
  }

  /** Run a change to the log, keeping it scrolled to the bottom only if it was there. */
  #stickWhile(change) {
    const { scrollTop, scrollHeight, clientHeight } = this.log;
    const atBottom = scrollHeight - scrollTop - clientHeight <= STICK_PX;
    change();
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }
}
