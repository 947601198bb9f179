// The REST API with the tab's token: sessionStorage keeps it for this tab's session only.
const TOKEN = "beacon.token";
const USER = "beacon.user";

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  get user() {
    const raw = sessionStorage.getItem(USER);
    return raw ? JSON.parse(raw) : null;
  },
  save(token, user) {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(USER, JSON.stringify(user));
  },
  clear() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(USER);
  },
};

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `The server answered ${status}.`);
    this.status = status;
    this.problem = problem || {};
  }

  // "field: message" lines from a 422's errors, else the detail.
  describe() {
    const errors = this.problem.errors;
    if (!errors) return this.message;
    return Object.entries(errors).map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`).join("; ");
  }
}

// Call /api/v1{path}; resolves to {data, etag, status, headers}, rejects with ApiError.
// A 401 on an authenticated call means the token is gone: back to the sign-in form.
export async function api(path, { method = "GET", body, headers = {}, auth = true } = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  if (auth && session.token) sent.Authorization = `Bearer ${session.token}`;
  let response;
  let text;
  try {
    response = await fetch(`/api/v1${path}`, {
      method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body),
    });
    text = await response.text();
  } catch {
    throw new ApiError(0, { detail: "Cannot reach Beacon; check the connection and try again." });
  }
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text.slice(0, 200) }; }
  }
  if (response.status === 401 && auth) {
    session.clear();
    location.assign("/");
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, etag: response.headers.get("ETag"), status: response.status, headers: response.headers };
}

// Every item of a keyset-paginated list (up to `max` items).
export async function listAll(path, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = (await api(`${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)).data;
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

export async function signIn(email, password) {
  const { data } = await api("/auth/tokens", { method: "POST", body: { email, password }, auth: false });
  session.save(data.token, data.user);
  return data.user;
}

export async function signOut() {
  try {
    await api("/auth/tokens/current", { method: "DELETE", auth: true });
  } finally {
    session.clear();
  }
}
