// The API client. The API's address comes from config.json, served with the portal (written at
// deployment); it is never typed in. The signed-in session (access token, its expiry, the
// refresh token, the person's name and role) lives in the tab's sessionStorage, gone when the
// tab closes. An access token about to expire is refreshed before a request; a refused one
// (401) is refreshed once, and when that fails too the session has ended.

const SESSION_KEY = "classsight.session";
const REFRESH_MARGIN_MS = 60_000;

export class ApiError extends Error {
  /** `fields`: [{field, message}] in plain words; `message`: one plain sentence. */
  constructor(status, message, { fields = [], raw = null } = {}) {
    super(message);
    this.status = status;
    this.fields = fields;
    this.raw = raw;
  }
}

let configPromise = null;

/** The portal's config.json ({ apiBaseUrl, roomStreams }), fetched once. */
export function config() {
  if (!configPromise) {
    configPromise = fetch("config.json", { cache: "no-store", credentials: "omit" })
      .then((r) => {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then((c) => ({
        apiBaseUrl: String(c.apiBaseUrl || "").replace(/\/+$/, ""),
        // Optional: each room's camera stream (MJPEG), shown on the live room page.
        roomStreams: c.roomStreams && typeof c.roomStreams === "object" ? c.roomStreams : {},
      }))
      .catch(() => {
        configPromise = null;
        throw new ApiError(0, "The portal's settings file (config.json) could not be read. Ask your administrator.");
      });
  }
  return configPromise;
}

/** The stored session or null. */
export function session() {
  try {
    const value = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    return value && value.access_token ? value : null;
  } catch {
    return null;
  }
}

function storeSession(value) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

const listeners = new Set();
/** `fn(reason)` is called when the session ends without the person signing out ("expired"). */
export function onSessionEnd(fn) {
  listeners.add(fn);
}
function sessionEnded(reason) {
  clearSession();
  for (const fn of listeners) fn(reason);
}

async function send(url, init) {
  try {
    return await fetch(url, { credentials: "omit", cache: "no-store", ...init });
  } catch {
    throw new ApiError(0, "The ClassSight server cannot be reached. Check your connection and try again.");
  }
}

async function parseError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, detail: body ? body.detail : undefined, retryAfter: response.headers.get("Retry-After") };
}

/** Sign in with a name and password; resolves to the session, or throws ApiError in plain words. */
export async function signIn(username, password) {
  const { apiBaseUrl } = await config();
  const response = await send(`${apiBaseUrl}/auth/sign-in`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) {
    const error = await parseError(response);
    if (error.status === 401 || error.status === 422) {
      throw new ApiError(error.status, "That name and password do not match an account.", {
        fields: [{ field: "password", message: "That name and password do not match an account. Check both and try again." }],
      });
    }
    if (error.status === 429) {
      const minutes = Math.max(1, Math.ceil(Number(error.retryAfter || 60) / 60));
      throw new ApiError(429, `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`);
    }
    if (error.status === 503) throw new ApiError(503, "Signing in is not available on this server. Ask your administrator.");
    throw new ApiError(error.status, "Signing in failed on the server. Try again in a moment.");
  }
  const value = await response.json();
  storeSession(value);
  return value;
}

let refreshing = null;

async function refresh() {
  const current = session();
  if (!current || !current.refresh_token) return false;
  if (!refreshing) {
    refreshing = (async () => {
      const { apiBaseUrl } = await config();
      const response = await send(`${apiBaseUrl}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: current.refresh_token }),
      });
      if (!response.ok) return false;
      const value = await response.json();
      storeSession({ ...value, refresh_token: value.refresh_token || current.refresh_token });
      return true;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** End the session on the server (best effort) and here. */
export async function signOut() {
  const current = session();
  if (current) {
    try {
      const { apiBaseUrl } = await config();
      await send(`${apiBaseUrl}/auth/sign-out`, { method: "POST", headers: { Authorization: `Bearer ${current.access_token}` } });
    } catch {
      // Signed out here either way; the token expires on its own.
    }
  }
  clearSession();
}

/**
 * Call the API. `path` starts with "/"; `query` values are URL-encoded; `body` is sent as JSON
 * (or as is with `contentType`). Resolves to parsed JSON (null for 204), or the Response with
 * { raw: true }. Errors are ApiError with the API's detail kept in `raw` for the form to word.
 */
export async function api(path, { method = "GET", query, body, contentType, raw = false } = {}) {
  const { apiBaseUrl } = await config();
  const url = new URL(apiBaseUrl + path);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const current = session();
  if (current && current.expires_at && current.refresh_token && Date.parse(current.expires_at) - Date.now() < REFRESH_MARGIN_MS) {
    await refresh();
  }
  const attempt = async () => {
    const headers = {};
    const now = session();
    if (now) headers.Authorization = `Bearer ${now.access_token}`;
    let payload;
    if (body !== undefined) {
      headers["Content-Type"] = contentType || "application/json";
      payload = contentType ? body : JSON.stringify(body);
    }
    return send(url, { method, headers, body: payload });
  };
  let response = await attempt();
  if (response.status === 401 && (await refresh())) response = await attempt();
  if (response.status === 401) {
    sessionEnded("expired");
    throw new ApiError(401, "Your session has ended. Please sign in again.");
  }
  if (!response.ok) {
    const error = await parseError(response);
    throw new ApiError(error.status, plainStatus(error.status), { raw: error.detail });
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

function plainStatus(status) {
  if (status === 403) return "Your account is not allowed to do this.";
  if (status === 404) return "This was not found. It may have been removed.";
  if (status === 409) return "This clashes with what is already stored.";
  if (status === 413) return "The file is too large.";
  if (status === 422) return "Some of what was entered is not accepted. See the marked fields.";
  if (status === 502 || status === 503) return "A service behind ClassSight did not answer. Try again in a moment.";
  return "Something went wrong on the server. Try again in a moment.";
}

/** The path segment for an identifier. */
export function seg(value) {
  return encodeURIComponent(value);
}
