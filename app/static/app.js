// Wires the page: the session form, the composer, the socket, the sessions panel.

import { KeyRefused, apiKey, health, listEvents, request } from "./js/api.js";
import { ChatLog } from "./js/chat.js";
import { SessionsPanel } from "./js/sessions.js";
import { loadSignInConfig, queryToken, socketProtocols, tokenUser } from "./js/signin.js";
import { ChatSocket, sessionUrl } from "./js/socket.js";
import { ANSWER_END, SESSION_ID_PATTERN } from "/vocabulary.js";

const USER_STORAGE = "realtime.userId";
const SESSION_ID = new RegExp(SESSION_ID_PATTERN);
const CLOSE_ALREADY_CONNECTED = 4409;
const CLOSE_TAKEN_OVER = 4410;
const CLOSE_UNKNOWN_SESSION = 4404;
const STATE_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  observing: "Watching (read-only)",
  reconnecting: "Reconnecting",
  closed: "Closed",
};

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("conn-status"),
  statusLabel: $("conn-label"),
  countdown: $("conn-countdown"),
  serverInfo: $("server-info"),
  sessionForm: $("session-form"),
  userId: $("user-id"),
  sessionId: $("session-id"),
  newSession: $("new-session"),
  copyTranscript: $("copy-transcript"),
  composer: $("composer"),
  message: $("message"),
  send: $("send"),
  stop: $("stop"),
  typing: $("typing"),
  observerBar: $("observer-bar"),
  takeOver: $("take-over"),
};
// The form checks a typed id by the service's own pattern.
ui.sessionId.pattern = SESSION_ID_PATTERN;

// False until the session has started on this connection: a message sent before would be lost.
let ready = false;
// How the next connection asks to join (`write`, `observe`, `takeover`), and how this one did.
let joinAs = "write";
let joinedAs = "write";

const chat = new ChatLog({
  log: $("messages"),
  announcer: $("announcer"),
  onStreaming: updateControls,
  newId: newSessionId,
});

const socket = new ChatSocket({
  // Each (re)connection asks for what followed the last frame shown, and lets an answer
  // outlive a dropped socket, so a reconnect shows it completing.
  urlFor: (id) =>
    sessionUrl(id, {
      user_id: userIdParam(),
      token: queryToken(apiKey()),
      after_seq: String(chat.lastSeq),
      mode: joinAs === "write" ? null : joinAs,
      on_disconnect: "continue",
    }),
  protocolsFor: () => socketProtocols(apiKey()),
  onFrame,
  onState: showState,
  decideOnClose,
});

const sessions = new SessionsPanel({
  root: $("sessions"),
  currentId: () => socket.sessionId,
  onResume: (id) => connectTo(id),
});

/** The `user_id` to send: none when signed in with a token (the server takes the token's). */
function userIdParam() {
  const user = tokenUser(apiKey());
  ui.userId.readOnly = Boolean(user);
  if (user) {
    ui.userId.value = user.label;
    return null;
  }
  return ui.userId.value.trim() || "anonymous";
}

/** A new session id; randomUUID needs a secure context, a LAN IP over http is not one. */
function newSessionId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function connectTo(sessionId) {
  // Reopening the live session would race its own close and be refused with 4409.
  if (socket.isOpen && socket.sessionId === sessionId) return;
  if (socket.sessionId && socket.sessionId !== sessionId) sessions.pollAfterEnd();
  chat.clear();
  joinAs = "write";
  ui.sessionId.value = sessionId;
  const url = new URL(location.href);
  url.searchParams.set("session", sessionId);
  history.replaceState(null, "", url);
  socket.connect(sessionId);
}

async function onFrame(frame) {
  if (frame.type !== "session.started") {
    chat.handle(frame);
    // Keeps this session's `turns` count in the list current.
    if (frame.type === ANSWER_END) sessions.refresh();
    return;
  }
  sessions.refresh();
  joinedAs = frame.mode;
  if (joinedAs === "write") joinAs = "write";
  ui.observerBar.hidden = joinedAs !== "observe";
  showState({ state: "connected" });
  // Messages stored before sequence numbers existed cannot be replayed: read them instead.
  if (frame.resumed && frame.history > 0 && frame.last_seq === 0 && chat.lastSeq === 0) {
    try {
      chat.showTranscript(await listEvents(frame.session_id));
    } catch {
      chat.notice("The earlier messages of this session could not be loaded.", "warn");
    }
  }
  ready = true;
  // A message the server never acknowledged goes again: its client_message_id makes it count once.
  if (joinedAs === "write") for (const unsent of chat.unacknowledged()) socket.send(unsent);
  updateControls();
}

async function decideOnClose({ code, opened }) {
  ready = false;
  if (opened) sessions.pollAfterEnd();
  if (code === CLOSE_ALREADY_CONNECTED || code === CLOSE_TAKEN_OVER) {
    joinAs = "observe";
    chat.notice(
      code === CLOSE_TAKEN_OVER
        ? "Another tab or window took this session over: this page now watches it."
        : "This session is open in another tab or window: this page watches it (read-only).",
      "warn",
    );
    return "now";
  }
  // Whatever was answering will not finish on this page any more.
  const decision = await decideRetry(code, opened);
  if (decision === "stop") chat.interrupted();
  return decision;
}

async function decideRetry(code, opened) {
  if (code === CLOSE_UNKNOWN_SESSION) {
    chat.notice("That session was not found. Start a new session.", "warn");
    return "stop";
  }
  return opened ? "retry" : handshakeFailed();
}

/** A refused handshake looks like a network error here; REST tells whether a key is missing. */
async function handshakeFailed() {
  const before = apiKey();
  try {
    await request("/sessions?limit=1");
  } catch (error) {
    return error instanceof KeyRefused ? stopForKey() : "retry";
  }
  return apiKey() !== before ? "now" : "retry";
}

function stopForKey() {
  chat.notice("This server needs you to sign in (a key or token). Press Connect to enter it.", "warn");
  return "stop";
}

function showState({ state, seconds }) {
  const shown = state === "connected" && joinedAs === "observe" ? "observing" : state;
  ui.status.dataset.state = shown;
  ui.statusLabel.textContent = STATE_TEXT[shown];
  ui.countdown.textContent = state === "reconnecting" ? ` in ${Math.max(seconds, 0)}s` : "";
  if (state !== "connected") ready = false;
  updateControls();
}

function updateControls() {
  const streaming = chat.streaming;
  const writing = ready && socket.isOpen && joinedAs === "write";
  // While an answer streams, a message sent waits its turn (`on_busy: enqueue`).
  ui.send.disabled = !writing;
  ui.stop.disabled = !(streaming && writing);
  ui.typing.hidden = !streaming;
  // Keyboard users on Stop would otherwise be left on a disabled button.
  if (ui.stop.disabled && document.activeElement === ui.stop) ui.message.focus();
}

function sendMessage() {
  const text = ui.message.value;
  if (!text.trim() || ui.send.disabled) return;
  socket.send(chat.userMessage(text));
  ui.message.value = "";
}

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  sendMessage();
});

ui.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendMessage();
  }
});

ui.stop.addEventListener("click", () => socket.send({ type: "cancel" }));

ui.takeOver.addEventListener("click", () => {
  // The log so far stays; the new connection replays what followed it.
  joinAs = "takeover";
  socket.connect(socket.sessionId);
  ui.message.focus();
});

ui.sessionForm.addEventListener("submit", (event) => {
  event.preventDefault();
  connectTo(ui.sessionId.value.trim());
});

ui.newSession.addEventListener("click", () => {
  connectTo(newSessionId());
  ui.message.focus();
});

ui.copyTranscript.addEventListener("click", () => {
  chat.copy(ui.copyTranscript, chat.transcript());
});

ui.userId.addEventListener("change", () => {
  const userId = ui.userId.value.trim() || "anonymous";
  ui.userId.value = userId;
  localStorage.setItem(USER_STORAGE, userId);
});

async function showHealth() {
  try {
    const info = await health();
    const model = info.model ? ` (${info.model})` : "";
    const down = info.status === "ok" ? "" : " · storage down";
    ui.serverInfo.textContent = `${info.llm}${model} · ${info.storage}${down}`;
  } catch {
    ui.serverInfo.textContent = "server unreachable";
  }
}

async function start() {
  ui.userId.value = localStorage.getItem(USER_STORAGE) || "anonymous";
  const requested = new URLSearchParams(location.search).get("session");
  await Promise.all([showHealth(), loadSignInConfig()]);
  // Listing sessions first asks for the API key, if needed, before the socket uses it.
  await sessions.refresh();
  connectTo(requested && SESSION_ID.test(requested) ? requested : newSessionId());
  ui.message.focus();
}

start();
