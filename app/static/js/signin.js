// Sign-in for the page: what the server asks for (GET /auth/config), the dialog's wording, and
// Supabase's own email sign-in when a public anon key is configured. The credential (the API
// key or a user's token) travels in the Authorization header and in the WebSocket subprotocols,
// so it stays out of URLs and proxy logs.

export const SUBPROTOCOL = "realtime.v1";
// What a WebSocket subprotocol may hold (an HTTP token); JWTs always fit.
const PROTOCOL_SAFE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

const WORDING = {
  api_key: {
    title: "API key needed",
    hint: "This server asks for an API key. It is kept in this tab only.",
    label: "API key",
    button: "Use key",
    rejected: "That key was not accepted.",
  },
  token: {
    title: "Sign in",
    hint: "Paste your sign-in token (your access token for this service). It is kept in this tab only.",
    label: "Token",
    button: "Use token",
    rejected: "That token was not accepted (wrong, or expired).",
  },
};

let config = { sign_in: "open" };

/** Read the server's sign-in settings once; an older server without them counts as API-key mode. */
export async function loadSignInConfig() {
  try {
    const response = await fetch("/auth/config");
    if (response.ok) config = await response.json();
  } catch {
    // Unreachable: /health says so; keep the defaults.
  }
  return config;
}

/** The subprotocols to offer: the protocol, then `bearer.<credential>` when it fits in one. */
export function socketProtocols(credential) {
  return credential && PROTOCOL_SAFE.test(credential)
    ? [SUBPROTOCOL, `bearer.${credential}`]
    : [SUBPROTOCOL];
}

/** A credential that cannot be a subprotocol has to go in `?token=` (still redacted in logs). */
export function queryToken(credential) {
  return credential && !PROTOCOL_SAFE.test(credential) ? credential : null;
}

/** The signed-in user a token names (`sub`, shown by email), when the server takes user tokens. */
export function tokenUser(credential) {
  const parts = (credential || "").split(".");
  if (config.sign_in !== "token" || parts.length !== 3) return null;
  try {
    const payload = JSON.parse(atob(parts[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof payload.sub === "string" ? { id: payload.sub, label: payload.email || payload.sub } : null;
  } catch {
    return null;
  }
}

/** Word the dialog for the server's mode; wire Supabase's sign-in when it is configured. */
export function prepareDialog(dialog, input) {
  const words = WORDING[config.sign_in] || WORDING.api_key;
  dialog.querySelector("#key-title").textContent = words.title;
  dialog.querySelector("#key-hint").textContent = words.hint;
  dialog.querySelector("#key-label").textContent = words.label;
  dialog.querySelector("#key-submit").textContent = words.button;
  dialog.querySelector("#key-rejected").textContent = words.rejected;
  const supabase = dialog.querySelector("#supabase-sign-in");
  supabase.hidden = !(config.supabase_url && config.supabase_anon_key);
  if (supabase.hidden) return;
  const error = supabase.querySelector("#supabase-error");
  const submit = supabase.querySelector("#supabase-submit");
  error.hidden = true;
  // Enter in the password field signs in, rather than submitting the empty token field.
  supabase.querySelector("#supabase-password").onkeydown = (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    submit.click();
  };
  submit.onclick = async () => {
    try {
      input.value = await supabaseSignIn(
        supabase.querySelector("#supabase-email").value,
        supabase.querySelector("#supabase-password").value,
      );
      dialog.close("ok");
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    }
  };
}

/** Supabase Auth's password sign-in with the public anon key; resolves to the access token. */
async function supabaseSignIn(email, password) {
  const response = await fetch(`${config.supabase_url}/auth/v1/token?grant_type=password`, {
    method: "POST",
    headers: { apikey: config.supabase_anon_key, "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.access_token) {
    throw new Error(body.error_description || body.msg || "Sign-in failed.");
  }
  return body.access_token;
}
