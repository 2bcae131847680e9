// Every call to the suite's APIs: the access token (kept in memory only), its renewal through the
// HttpOnly session cookie (POST /auth/refresh), and RFC 9457 problem details turned into words.

let accessToken = null;
let renewTimer = null;
const listeners = new Set();

export const session = { user: null };

/** An API answered an error; `message` is the problem in words, `problem` the parsed body. */
export class ApiError extends Error {
  constructor(status, problem, message) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

/** A failure worth asking again after (a service restarting, or no answer at all). */
export function isTransient(error) {
  return error instanceof ApiError && [0, 502, 503, 504].includes(error.status);
}

/** Words for an error answer: problem details (title, detail, field errors) or Stripe's error object. */
export function describeProblem(status, statusText, body) {
  if (body && typeof body === "object") {
    if (body.error && typeof body.error === "object" && body.error.message) {
      return body.error.message; // Stripe's shape: {"error": {"type", "code", "message"}}
    }
    const title = body.title || "";
    const detail = body.detail || "";
    let words = title && detail && detail !== title ? `${title}: ${detail}` : detail || title;
    if (Array.isArray(body.errors) && body.errors.length) {
      const fields = body.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message));
      words = `${words || "Invalid request"} (${fields.join("; ")})`;
    }
    if (words) return words;
  }
  if (typeof body === "string" && body.trim() && body.length < 300) return `${status}: ${body.trim()}`;
  return `The server answered ${status} ${statusText || ""}`.trim();
}

async function readBody(answer) {
  const text = await answer.text();
  if (!text) return null;
  const kind = answer.headers.get("content-type") || "";
  if (kind.includes("json")) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** fetch, with words for a network failure instead of a bare TypeError. */
export async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, null, `Could not reach ${new URL(url, location.href).host}: ${error.message}`);
  }
}

/** Call an API of the gateway; returns the parsed JSON body, throws ApiError with the problem in words. */
export async function api(path, { method = "GET", body, retry = true } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) init.body = JSON.stringify(body);
  const answer = await send(path, init);
  // An access token lives minutes; the session cookie renews it once, then the call is repeated.
  if (answer.status === 401 && accessToken && retry && (await renew())) {
    return api(path, { method, body, retry: false });
  }
  const data = await readBody(answer);
  if (!answer.ok) throw new ApiError(answer.status, data, describeProblem(answer.status, answer.statusText, data));
  return data;
}

export function onSessionChange(listener) {
  listeners.add(listener);
}

function changed() {
  for (const listener of listeners) listener(session.user);
}

function keep(grant) {
  accessToken = grant.access_token;
  clearTimeout(renewTimer);
  // Renew a little before the token expires, so that a long upload or a paused video keeps working.
  const inMs = Math.max(5, (grant.expires_in || 300) - 30) * 1000;
  renewTimer = setTimeout(() => renew(), inMs);
}

function forget() {
  accessToken = null;
  clearTimeout(renewTimer);
  session.user = null;
  changed();
}

/** A new access token from the session cookie (the browser sends the cookie and its Origin). */
export async function renew() {
  const answer = await send("/auth/refresh", { method: "POST", credentials: "same-origin" });
  if (!answer.ok) {
    if (session.user || accessToken) forget();
    return false;
  }
  keep(await answer.json());
  return true;
}

export async function loadMe() {
  session.user = await api("/auth/me");
  changed();
  return session.user;
}

/** On page load: a session cookie from an earlier visit signs the person in again. */
export async function resume() {
  if (await renew()) await loadMe();
  else changed();
}

export async function logIn(email, password) {
  keep(await api("/auth/login", { method: "POST", body: { email, password } }));
  return loadMe();
}

export async function signUp(email, password, displayName) {
  return api("/auth/signup", { method: "POST", body: { email, password, display_name: displayName } });
}

export async function logOut() {
  try {
    await api("/auth/logout", { method: "POST" });
  } finally {
    forget();
  }
}

export function hasRole(...roles) {
  return Boolean(session.user && roles.includes(session.user.role));
}
