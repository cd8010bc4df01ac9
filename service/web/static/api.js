// A fetch wrapper that fails over between nodes.
//
// Any node accepts any request. A request goes to the node that answered last (first: the node
// that served this page) and moves on to the next known node on a network error, a timeout or a
// 5xx (503 no_quorum / starting / database_unavailable). Writes carry an Idempotency-Key created
// once per logical request and reused on every retry, so a write whose outcome was unknown is
// applied at most once.

const ATTEMPT_TIMEOUT_MS = 8000; // above the server's request timeout (5 s): its 503 arrives first
const DEADLINE_MS = 30000;

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

export class Api {
  constructor(origin) {
    this.nodes = [origin];
    this.preferred = 0;
    this.listeners = new Set();
  }

  // Add node URLs learned from /api/v1/cluster.
  addNodes(urls) {
    for (const url of urls) {
      const clean = (url || "").replace(/\/+$/, "");
      if (clean && !this.nodes.includes(clean)) this.nodes.push(clean);
    }
  }

  onUse(listener) {
    this.listeners.add(listener);
  }

  get current() {
    return this.nodes[this.preferred];
  }

  async request(method, path, { body, headers = {}, write = false, deadlineMs = DEADLINE_MS } = {}) {
    const hdrs = { ...headers };
    if (body !== undefined) hdrs["Content-Type"] = "application/json";
    if (write) hdrs["Idempotency-Key"] = newKey();
    const end = Date.now() + deadlineMs;
    let last = "no attempt";
    for (let round = 0; ; round++) {
      const count = this.nodes.length;
      for (let step = 0; step < count; step++) {
        const i = (this.preferred + step) % this.nodes.length;
        const base = this.nodes[i];
        const remaining = end - Date.now();
        if (remaining <= 0) {
          throw new ApiError(0, "unavailable", `no node answered within ${deadlineMs / 1000}s (last: ${last})`);
        }
        const ctrl = new AbortController();
        const timer = setTimeout(() => ctrl.abort(), Math.min(ATTEMPT_TIMEOUT_MS, remaining));
        let response;
        try {
          response = await fetch(base + path, {
            method,
            headers: hdrs,
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: ctrl.signal,
            cache: "no-store",
          });
        } catch (err) {
          last = `${base}: ${err.name === "AbortError" ? "timeout" : "network error"}`;
          continue;
        } finally {
          clearTimeout(timer);
        }
        if (response.status >= 500) {
          last = `${base}: ${response.status}`;
          continue;
        }
        this.preferred = i;
        for (const listener of this.listeners) listener(base);
        return this.decode(response);
      }
      await sleep(Math.min(150 * 2 ** round, 1000));
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
      throw new ApiError(response.status, err.code || "http_error", err.message || `HTTP ${response.status}`, data);
    }
    return { status: response.status, data, etag: response.headers.get("ETag") };
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

// One node's own view, no failover: the cluster panel asks every node itself.
export async function nodeView(base, timeoutMs = 1500) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  try {
    const r = await fetch(`${base}/api/v1/cluster`, { signal: ctrl.signal, cache: "no-store" });
    return r.ok ? await r.json() : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}
