// The conversation log: streamed answers, tool cards, errors and notices.

import {
  errorBubble,
  finishBubble,
  messageBubble,
  noteLine,
  renderEvents,
  setToolResult,
  toolCard,
} from "./render.js";

// Within this many pixels of the bottom counts as "at the bottom" for auto-scroll.
const STICK_PX = 48;
// These errors leave the answer going (its `assistant.done` follows); any other ends the turn.
const ERRORS_BEFORE_DONE = ["busy", "llm_error"];

export class ChatLog {
  #answer = null;

  /** `onStreaming(bool)` is told when an answer starts and ends. */
  constructor({ log, announcer, onStreaming }) {
    Object.assign(this, { log, announcer, onStreaming });
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
    for (const bubble of this.#answer.segments) finishBubble(bubble, "interrupted");
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
    this.#stickWhile(() => answer.segment.querySelector(".text").append(frame.delta));
  }

  #toolCall(frame) {
    this.#current(frame.message_id);
    this.#append(toolCard(frame.name, frame.arguments, frame.call_id));
  }

  #toolResult(frame) {
    const cards = [...this.log.querySelectorAll(".tool-card")];
    const card = cards.find((c) => c.dataset.callId === frame.call_id);
    if (card) this.#stickWhile(() => setToolResult(card, frame.result));
  }

  #done(frame) {
    const answer = this.#current(frame.message_id);
    if (answer.segments.length === 0) {
      answer.segments.push(messageBubble("assistant"));
      this.#append(answer.segments[0]);
    }
    // With a single bubble, the final text is authoritative (it is also what is stored).
    if (answer.segments.length === 1) {
      answer.segments[0].querySelector(".text").textContent = frame.content;
    }
    const last = answer.segments.length - 1;
    this.#stickWhile(() =>
      answer.segments.forEach((b, i) => finishBubble(b, i === last ? frame.finish_reason : "stop")),
    );
    this.#setAnswer(null);
    const ending = frame.finish_reason === "stop" ? "" : ` (${frame.finish_reason})`;
    this.announce(`Assistant${ending}: ${frame.content || "no answer"}`);
  }

  #error(frame) {
    this.#append(errorBubble(frame.code, frame.message));
    this.announce(`Error ${frame.code}: ${frame.message}`);
    if (this.#answer && !ERRORS_BEFORE_DONE.includes(frame.code)) {
      for (const bubble of this.#answer.segments) finishBubble(bubble, "error");
      this.#setAnswer(null);
    }
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
