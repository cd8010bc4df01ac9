// Requests to the page's own origin, retried until they get an answer.
//
// Every request is relative: it goes to the address that served the page (a node, a Kubernetes
// Service, an ingress or a port-forward), never to a node's own URL, which a browser outside the
// cluster may not reach. Any node accepts any request. On a network error, a timeout or a 5xx
// (503 no_quorum / starting / database_unavailable) the request is sent again to the same address
// after a short pause: the next connection may reach another node. Writes carry an Idempotency-Key
// created once per logical request and reused on every retry, so a write whose outcome was unknown
// is applied at most once.

const ATTEMPT_TIMEOUT_MS = 8000; // above the server's request timeout (5 s): its 503 arrives first
const DEADLINE_MS = 30000;
const NODE_HEADER = "X-Taskraft-Node"; // which node answered
export const TOKEN_KEY = "taskraft.token"; // the API token, in sessionStorage: gone when the tab closes

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export function newKey() {
  // crypto.randomUUID only exists in secure contexts; getRandomValues works everywhere.
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// "/api/v1/tasks" -> "api/v1/tasks": resolved against the page's own URL, so a path prefix in front
// of the page (an ingress rule) is kept.
const relative = (path) => path.replace(/^\/+/, "");

// A gateway in front of the nodes answers these when it reaches none: the same as no connection.
const GATEWAY = new Set([502, 504]);

export class Api {
  constructor() {
    this.online = true; // false from a request that got no answer until one that got one
    this.node = null; // the node id that answered last
    this.nodeListeners = new Set();
    this.connectionListeners = new Set();
    this.unauthorizedListeners = new Set();
  }

  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  // listener(error) when an answer is 401: the token is missing, unknown, expired or revoked
  onUnauthorized(listener) {
    this.unauthorizedListeners.add(listener);
  }

  // listener(nodeId) after every answer
  onAnswer(listener) {
    this.nodeListeners.add(listener);
  }

  // listener(online) when the connection to the origin is lost or back
  onConnection(listener) {
    this.connectionListeners.add(listener);
  }

  setOnline(online) {
    if (online === this.online) return;
    this.online = online;
    for (const listener of this.connectionListeners) listener(online);
  }

  answered(response) {
    const gateway = GATEWAY.has(response.status);
    this.setOnline(!gateway);
    const node = response.headers.get(NODE_HEADER);
    if (node) {
      this.node = node;
      for (const listener of this.nodeListeners) listener(node);
    }
    return !gateway;
  }

  // One attempt: the Response, or null when no answer came (network error, timeout, gateway error).
  async attempt(method, path, { body, headers = {}, timeoutMs = ATTEMPT_TIMEOUT_MS } = {}) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), timeoutMs);
    const token = this.token;
    try {
      const response = await fetch(relative(path), {
        method,
        headers: token ? { ...headers, Authorization: `Bearer ${token}` } : headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctrl.signal,
        cache: "no-store",
      });
      return this.answered(response) ? response : null;
    } catch {
      this.setOnline(false);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  async request(method, path, { body, headers = {}, write = false, deadlineMs = DEADLINE_MS } = {}) {
    const hdrs = { ...headers };
    if (body !== undefined) hdrs["Content-Type"] = "application/json";
    if (write) hdrs["Idempotency-Key"] = newKey();
    const end = Date.now() + deadlineMs;
    let last = "no attempt";
    for (let round = 0; ; round++) {
      const remaining = end - Date.now();
      if (remaining <= 0) {
        throw new ApiError(0, "unavailable", `no answer within ${deadlineMs / 1000}s (last: ${last})`);
      }
      const response = await this.attempt(method, path, {
        body,
        headers: hdrs,
        timeoutMs: Math.min(ATTEMPT_TIMEOUT_MS, remaining),
      });
      if (response === null) {
        last = "no connection";
      } else if (response.status >= 500) {
        last = `HTTP ${response.status}`;
      } else {
        return this.decode(response);
      }
      await sleep(Math.min(150 * 2 ** round, 1000, Math.max(0, end - Date.now())));
    }
  }

  async decode(response) {
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!response.ok) {
      const err = (data && data.error) || {};
      const error = new ApiError(response.status, err.code || "http_error", err.message || `HTTP ${response.status}`, data);
      if (response.status === 401) for (const listener of this.unauthorizedListeners) listener(error);
      throw error;
    }
    return { status: response.status, data, etag: response.headers.get("ETag") };
  }

  // Every member's own view, gathered by the node that answers (one attempt: the panel polls).
  async clusterNodes(timeoutMs = 3000) {
    const response = await this.attempt("GET", "/api/v1/cluster/nodes", { timeoutMs });
    if (response === null) return null;
    if (!response.ok) throw new ApiError(response.status, "http_error", `HTTP ${response.status}`, null);
    return response.json();
  }

  whoami() {
    return this.request("GET", "/api/v1/whoami").then((r) => r.data);
  }

  // -- tasks --
  listTasks({ status = "", after = null, limit = 50 } = {}) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (status) q.set("status", status);
    if (after !== null && after !== undefined) q.set("after", String(after));
    return this.request("GET", `/api/v1/tasks?${q}`).then((r) => r.data);
  }

  getTask(id) {
    return this.request("GET", `/api/v1/tasks/${id}`).then((r) => r.data);
  }

  createTask(fields) {
    return this.request("POST", "/api/v1/tasks", { body: fields, write: true }).then((r) => r.data);
  }

  updateTask(id, fields, version) {
    const headers = version ? { "If-Match": `"${version}"` } : {};
    return this.request("PATCH", `/api/v1/tasks/${id}`, { body: fields, headers, write: true }).then((r) => r.data);
  }

  deleteTask(id, version) {
    const headers = version ? { "If-Match": `"${version}"` } : {};
    return this.request("DELETE", `/api/v1/tasks/${id}`, { headers, write: true });
  }
}
