// Wires the page: the session form, the composer, the socket, the sessions panel.

import { KeyRefused, apiKey, health, listEvents, request } from "./js/api.js";
import { ChatLog } from "./js/chat.js";
import { SessionsPanel } from "./js/sessions.js";
import { loadSignInConfig, queryToken, socketProtocols, tokenUser } from "./js/signin.js";
import { ChatSocket, sessionUrl } from "./js/socket.js";

const USER_STORAGE = "realtime.userId";
const SESSION_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const CLOSE_ALREADY_CONNECTED = 4409;
const CLOSE_UNKNOWN_SESSION = 4404;
const STATE_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
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
};

// False while connecting or loading a resumed transcript: a message sent then would be lost.
let ready = false;

const chat = new ChatLog({
  log: $("messages"),
  announcer: $("announcer"),
  onStreaming: updateControls,
});

const socket = new ChatSocket({
  urlFor: (id) => sessionUrl(id, { user_id: userIdParam(), token: queryToken(apiKey()) }),
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
    if (frame.type === "assistant.done") sessions.refresh();
    return;
  }
  sessions.refresh();
  if (frame.resumed && frame.history > 0) {
    try {
      chat.showTranscript(await listEvents(frame.session_id));
    } catch {
      chat.notice("The earlier messages of this session could not be loaded.", "warn");
    }
  }
  ready = true;
  updateControls();
}

async function decideOnClose({ code, opened }) {
  ready = false;
  chat.interrupted();
  if (opened) sessions.pollAfterEnd();
  if (code === CLOSE_ALREADY_CONNECTED) {
    chat.notice(
      "This session is already open in another tab or window, so this page stopped connecting. " +
        "Close it there and press Connect, or start a new session.",
      "warn",
    );
    return "stop";
  }
  if (code === CLOSE_UNKNOWN_SESSION) {
    chat.notice("That session was not found. Start a new session.", "warn");
    return "stop";
  }
  if (!opened) return handshakeFailed();
  return "retry";
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

function showState({ state, seconds, code }) {
  ui.status.dataset.state = state;
  ui.statusLabel.textContent =
    code === CLOSE_ALREADY_CONNECTED ? "Closed: open elsewhere" : STATE_TEXT[state];
  ui.countdown.textContent = state === "reconnecting" ? ` in ${Math.max(seconds, 0)}s` : "";
  if (state !== "connected") ready = false;
  updateControls();
}

function updateControls() {
  const streaming = chat.streaming;
  ui.send.disabled = !(ready && socket.isOpen) || streaming;
  ui.stop.disabled = !(streaming && socket.isOpen);
  ui.typing.hidden = !streaming;
  // Keyboard users on Stop would otherwise be left on a disabled button.
  if (ui.stop.disabled && document.activeElement === ui.stop) ui.message.focus();
}

function sendMessage() {
  const text = ui.message.value;
  if (!text.trim() || ui.send.disabled) return;
  if (!socket.send({ type: "user.message", content: text })) return;
  chat.userMessage(text);
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
