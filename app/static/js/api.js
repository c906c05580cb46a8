// REST calls with the API key or a user's token: asked for on a 401, kept for this tab only,
// then retried.

import { prepareDialog } from "./signin.js";

const KEY_STORAGE = "realtime.apiKey";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.status = status;
  }
}

export class KeyRefused extends Error {}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

let pendingAsk = null;

/**
 * Ask for the API key in the page's dialog. Concurrent callers share one dialog.
 * Resolves to the key, or null when the user cancels.
 */
export function askForKey({ rejected = false } = {}) {
  pendingAsk ??= showKeyDialog(rejected).finally(() => {
    pendingAsk = null;
  });
  return pendingAsk;
}

function showKeyDialog(rejected) {
  const dialog = document.getElementById("key-dialog");
  const input = dialog.querySelector("#api-key");
  prepareDialog(dialog, input);
  dialog.querySelector("#key-rejected").hidden = !rejected;
  input.value = "";
  // Escape closes without changing returnValue, so clear the previous answer.
  dialog.returnValue = "";
  dialog.querySelector("#key-cancel").onclick = () => dialog.close("cancel");
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        const key = dialog.returnValue === "ok" ? input.value.trim() : "";
        if (key) sessionStorage.setItem(KEY_STORAGE, key);
        resolve(key || null);
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
}

/** fetch() with the bearer key; on 401 asks for the key and retries, until it works or the user cancels. */
export async function request(path, init = {}) {
  for (;;) {
    const key = apiKey();
    const headers = new Headers(init.headers);
    if (key) headers.set("Authorization", `Bearer ${key}`);
    const response = await fetch(path, { ...init, headers });
    if (response.status !== 401) return response;
    if (!(await askForKey({ rejected: Boolean(key) }))) throw new KeyRefused("an API key is needed");
  }
}

async function getJson(path) {
  const response = await request(path);
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new ApiError(response.status, body.detail);
  }
  return response.json();
}

/** GET /health: always open, so it needs no key. */
export async function health() {
  const response = await fetch("/health");
  return response.json();
}

export function listSessions(limit = 50) {
  return getJson(`/sessions?limit=${limit}`);
}

/** All of a session's events, page by page. */
export async function listEvents(sessionId) {
  const pageSize = 1000;
  const events = [];
  for (let afterId = 0; ; ) {
    const page = await getJson(
      `/sessions/${encodeURIComponent(sessionId)}/events?after_id=${afterId}&limit=${pageSize}`,
    );
    events.push(...page);
    if (page.length < pageSize) return events;
    afterId = page[page.length - 1].id;
  }
}
