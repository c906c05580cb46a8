// One chat WebSocket that reconnects by itself with exponential back-off.

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 8000;
// Idle sockets behind proxies are cut after ~60 s; a ping keeps the session alive.
const PING_INTERVAL_MS = 20000;

/** The wait before reconnect attempt `attempt` (0-based), with jitter. */
export function backoffDelay(attempt) {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
  // Jitter spreads out many tabs reconnecting to a restarted server.
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** The ws:// or wss:// URL of a session on this page's host. */
export function sessionUrl(sessionId, params) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
  return `${scheme}//${location.host}/ws/session/${encodeURIComponent(sessionId)}?${query}`;
}

/**
 * Callbacks:
 * - urlFor(sessionId): the URL to open (read each attempt, so a new key or user id is used);
 * - protocolsFor(): the subprotocols to offer (they carry the credential), read each attempt;
 * - onFrame(frame): each parsed server frame;
 * - onState({state, seconds?, code?}): connecting | connected | reconnecting | closed;
 * - decideOnClose({code, opened}): "retry" (with back-off), "now" or "stop"; may be async.
 */
export class ChatSocket {
  #ws = null;
  #attempt = 0;
  #generation = 0;
  #timers = [];

  constructor({ urlFor, protocolsFor = () => [], onFrame, onState, decideOnClose }) {
    Object.assign(this, { urlFor, protocolsFor, onFrame, onState, decideOnClose });
    this.sessionId = null;
  }

  get isOpen() {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  /** Connect to a session now, dropping any current connection and back-off. */
  connect(sessionId) {
    this.#reset();
    this.sessionId = sessionId;
    this.#attempt = 0;
    this.#open();
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.#ws.send(JSON.stringify(frame));
    return true;
  }

  #open() {
    const generation = this.#generation;
    let opened = false;
    this.onState({ state: "connecting" });
    const ws = new WebSocket(this.urlFor(this.sessionId), this.protocolsFor());
    ws.onopen = () => {
      opened = true;
      this.onState({ state: "connected" });
      this.#timers.push(setInterval(() => this.send({ type: "ping" }), PING_INTERVAL_MS));
    };
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "session.started") this.#attempt = 0;
      this.onFrame(frame);
    };
    ws.onclose = async (event) => {
      this.#clearTimers();
      this.#ws = null;
      if (opened) this.onState({ state: "connecting" });
      const decision = await this.decideOnClose({ code: event.code, opened });
      if (generation !== this.#generation) return;
      if (decision === "stop") this.onState({ state: "closed", code: event.code });
      else if (decision === "now") this.#open();
      else this.#scheduleRetry();
    };
    this.#ws = ws;
  }

  #scheduleRetry() {
    const delay = backoffDelay(this.#attempt++);
    const due = Date.now() + delay;
    const tick = () => this.onState({ state: "reconnecting", seconds: Math.ceil((due - Date.now()) / 1000) });
    tick();
    this.#timers.push(setInterval(tick, 1000));
    this.#timers.push(
      setTimeout(() => {
        this.#clearTimers();
        this.#open();
      }, delay),
    );
  }

  #clearTimers() {
    for (const id of this.#timers) clearTimeout(id);
    this.#timers = [];
  }

  #reset() {
    this.#generation++;
    this.#clearTimers();
    if (this.#ws) {
      this.#ws.onopen = this.#ws.onmessage = this.#ws.onclose = null;
      this.#ws.close(1000);
      this.#ws = null;
    }
  }
}
