// The API client: base URL and bearer token live in sessionStorage (gone when the tab closes).

const BASE_KEY = "classsight.apiBase";
const TOKEN_KEY = "classsight.apiToken";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** The saved connection: { base, token }. */
export function connection() {
  return {
    base: sessionStorage.getItem(BASE_KEY) || "",
    token: sessionStorage.getItem(TOKEN_KEY) || "",
  };
}

/** Save the connection for this tab. */
export function saveConnection(base, token) {
  sessionStorage.setItem(BASE_KEY, base.trim().replace(/\/+$/, ""));
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

/** Forget the token (the base URL stays). */
export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export function isConfigured() {
  const { base, token } = connection();
  return Boolean(base && token);
}

function describe(body, fallback) {
  if (!body || body.detail === undefined) return fallback;
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) {
    return body.detail.map((e) => `${(e.loc || []).filter((p) => p !== "body").join(".")}: ${e.msg}`).join("; ");
  }
  return fallback;
}

/**
 * Call the API. `path` starts with "/"; `query` values are URL-encoded; `body` is sent as JSON.
 * Resolves to parsed JSON (null for 204), or the Response itself with { raw: true }.
 */
export async function api(path, { method = "GET", query, body, raw = false } = {}) {
  const { base, token } = connection();
  if (!base) throw new ApiError(0, "Set the API URL under Connection first.");
  const url = new URL(base + path);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError(0, `Cannot reach the API at ${base} (${e.message}).`);
  }
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    throw new ApiError(response.status, describe(parsed, `${response.status} ${response.statusText}`));
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

/** The path segment for an identifier (already pattern-checked by the API; encoded anyway). */
export function seg(value) {
  return encodeURIComponent(value);
}
