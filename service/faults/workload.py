"""The fault suite's clients: concurrent threads doing creates, reads, updates, deletes and lists.

Each client is a thread inside the client host's network namespace with its own HTTP session. Clients
start on different nodes (client i on node i mod n), move to the next node after an error, and jump
to a random node before half of their operations, so every node gets traffic all the time. They
share a small "hot set" of tasks so their operations conflict: most reads, updates and deletes hit
one of `hot` live tasks; once a task is deleted a create refills the set.

Recording (see `history.py`): one invoke, then ok / fail / info, with `time.monotonic` timestamps.
  - Writes carry an Idempotency-Key. An ambiguous answer (connection error, timeout, 5xx such as
    503 no_quorum / starting / database_unavailable) is retried with the SAME key on the next node,
    up to `max_attempts` requests or `retry_window` seconds; if none answers definitely the op is
    recorded as info (unknown outcome). A definite 4xx is a fail (not applied).
  - Reads and lists are not retried: a failed read has no effect, so it is recorded as fail.
  - After an info op a client takes a fresh process id, as in Jepsen: its earlier request may still
    be pending somewhere, so the next op must not be treated as sequential with it.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import requests

from ..commands import STATUSES
from ..localcluster.netns import InNamespace
from .history import History

CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 7.0  # above the node's 5 s request timeout, so its 503 usually arrives first

# Relative weights of the operations once the hot set is full.
WEIGHTS = {
    "read": 30,
    "update_if_match": 20,
    "update": 15,
    "delete": 6,
    "list": 8,
    "create": 3,
}


class HotSet:
    """The small set of live tasks clients concentrate on, and the last version seen of each."""

    def __init__(self, size: int):
        self.size = size
        self._lock = threading.Lock()
        self._ids: list[int] = []
        self._versions: dict[int, int] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    def add(self, task: dict) -> None:
        with self._lock:
            if task["id"] not in self._ids:
                self._ids.append(task["id"])
            self._versions[task["id"]] = max(self._versions.get(task["id"], 0), task.get("version", 1))

    def observe(self, task: dict) -> None:
        with self._lock:
            if task.get("id") in self._versions:
                self._versions[task["id"]] = max(self._versions[task["id"]], task.get("version", 1))

    def retire(self, task_id: int) -> None:
        with self._lock:
            if task_id in self._ids:
                self._ids.remove(task_id)

    def pick(self, rng: random.Random) -> tuple[int, int] | None:
        """A hot task id and the last version seen of it (possibly stale, so If-Match may fail)."""
        with self._lock:
            if not self._ids:
                return None
            tid = rng.choice(self._ids)
            version = self._versions.get(tid, 1)
        if rng.random() < 0.15:
            version = max(1, version - rng.randint(1, 2))  # deliberately stale sometimes
        return tid, version


class Workload:
    def __init__(
        self,
        urls: list[str],
        client_host,
        history: History,
        *,
        clients: int = 10,
        hot: int = 5,
        seed: int = 0,
        max_attempts: int = 8,
        retry_window: float = 25.0,
        think: tuple[float, float] = (0.0, 0.05),
        tag: str = "",
        headers: dict | None = None,
    ):
        self.urls = list(urls)
        self.headers = dict(headers or {})  # the cluster's admin token (LocalCluster.auth_headers)
        self.client_host = client_host
        self.history = history
        self.clients = clients
        self.hot = HotSet(hot)
        self.seed = seed
        self.max_attempts = max_attempts
        self.retry_window = retry_window
        self.think = think
        self.tag = tag or f"s{seed}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.counts: Counter = Counter()  # (f, outcome) -> n, for progress lines
        self.errors: list[str] = []  # unexpected client-side errors (bugs in the harness)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Workload:
        for c in range(self.clients):
            t = threading.Thread(target=self._client, args=(c,), name=f"client-{c}", daemon=True)
            self._threads.append(t)
            t.start()
        return self

    def stop(self, timeout: float = 40.0) -> None:
        """Ask clients to stop; each finishes its current op (retries included) within `timeout`."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def alive(self) -> int:
        return sum(1 for t in self._threads if t.is_alive())

    # -- one client ------------------------------------------------------------------------------

    def _client(self, c: int) -> None:
        try:
            with InNamespace(self.client_host):
                _Client(self, c).run()
        except Exception as exc:  # a harness bug: record it, never kill the run silently
            with self._lock:
                self.errors.append(f"client {c}: {type(exc).__name__}: {exc}")


class _Client:
    def __init__(self, w: Workload, c: int):
        self.w = w
        self.c = c
        self.process = c
        self.rng = random.Random(f"{w.seed}-client-{c}")
        self.session = requests.Session()
        self.session.headers.update(w.headers)
        self.node = c % len(w.urls)
        self.n = 0

    def run(self) -> None:
        w = self.w
        while not w._stop.is_set():
            self.n += 1
            self.one()
            lo, hi = w.think
            if hi > 0:
                time.sleep(self.rng.uniform(lo, hi))

    # -- choosing --------------------------------------------------------------------------------

    def one(self) -> None:
        w, rng = self.w, self.rng
        if rng.random() < 0.5:  # spread over every node, including one that just came back
            self.node = rng.randrange(len(w.urls))
        if len(w.hot) < w.hot.size and rng.random() < 0.7:
            return self.create()
        kinds, weights = zip(*WEIGHTS.items(), strict=True)
        kind = rng.choices(kinds, weights)[0]
        if kind == "create":
            return self.create()
        if kind == "list":
            return self.list()
        picked = w.hot.pick(rng)
        if picked is None:
            return self.create()
        tid, version = picked
        if kind == "read":
            return self.read(tid)
        if kind == "update_if_match":
            return self.update(tid, version)
        if kind == "update":
            return self.update(tid, None)
        return self.delete(tid, version if rng.random() < 0.5 else None)

    # -- operations ------------------------------------------------------------------------------

    def create(self) -> None:
        title = f"t-{self.w.tag}-{self.c}-{self.n}"
        body = {"title": title, "description": f"d-{self.c}-{self.n}", "status": self.rng.choice(STATUSES)}
        op = self._invoke("create", title=title, args=body)
        outcome, status, data, attempts, err = self._write("POST", "/api/v1/tasks", body, None)
        if outcome == "ok" and status == 201:
            self.w.hot.add(data)
            self._done(op, "ok", value=data, attempts=attempts, task_id=data["id"], f="create")
        else:
            self._finish_failure(op, outcome, err, attempts, f="create")

    def update(self, tid: int, if_match: int | None) -> None:
        fields = {"description": f"u-{self.c}-{self.n}"}
        if self.rng.random() < 0.7:
            fields["status"] = self.rng.choice(STATUSES)
        op = self._invoke("update", task_id=tid, args={"fields": fields, "if_match": if_match})
        outcome, status, data, attempts, err = self._write("PATCH", f"/api/v1/tasks/{tid}", fields, if_match)
        if outcome == "ok" and status == 200:
            self.w.hot.observe(data)
            self._done(op, "ok", value=data, attempts=attempts, task_id=tid, f="update")
        else:
            if err == "not_found":
                self.w.hot.retire(tid)
            self._finish_failure(op, outcome, err, attempts, f="update", task_id=tid)

    def delete(self, tid: int, if_match: int | None) -> None:
        op = self._invoke("delete", task_id=tid, args={"if_match": if_match})
        outcome, status, data, attempts, err = self._write("DELETE", f"/api/v1/tasks/{tid}", None, if_match)
        if outcome == "ok" and status == 204:
            self.w.hot.retire(tid)
            self._done(op, "ok", value=None, attempts=attempts, task_id=tid, f="delete")
        else:
            if err == "not_found":
                self.w.hot.retire(tid)
            self._finish_failure(op, outcome, err, attempts, f="delete", task_id=tid)

    def read(self, tid: int) -> None:
        node = self.node
        op = self._invoke("read", task_id=tid, args={})
        try:
            r = self.session.get(f"{self.w.urls[node]}/api/v1/tasks/{tid}", timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.RequestException as exc:
            self._next_node()
            return self._done(op, "fail", error=_exc_code(exc), task_id=tid, f="read")
        if r.status_code == 200:
            task = r.json()
            self.w.hot.observe(task)
            return self._done(op, "ok", value=task, task_id=tid, f="read")
        if r.status_code == 404:
            self.w.hot.retire(tid)
            return self._done(op, "ok", value=None, task_id=tid, f="read")
        self._next_node()
        self._done(op, "fail", error=_error_code(r), task_id=tid, f="read")

    def list(self) -> None:
        args: dict[str, str] = {}
        params: dict[str, str | int] = {"limit": 200}
        if self.rng.random() < 0.3:
            args["status"] = params["status"] = self.rng.choice(STATUSES)
        op = self._invoke("list", args=args)
        try:
            r = self.session.get(
                f"{self.w.urls[self.node]}/api/v1/tasks", params=params, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
            )
        except requests.RequestException as exc:
            self._next_node()
            return self._done(op, "fail", error=_exc_code(exc), f="list")
        if r.status_code == 200:
            return self._done(op, "ok", value=r.json()["items"], f="list")
        self._next_node()
        self._done(op, "fail", error=_error_code(r), f="list")

    # -- plumbing --------------------------------------------------------------------------------

    def _invoke(self, f: str, *, task_id=None, title=None, args=None) -> int:
        key = None
        if f in ("create", "update", "delete"):
            key = f"k-{self.w.tag}-{self.c}-{self.n}-{self.rng.getrandbits(32):08x}"
        self._key = key
        op_id = self.w.history.invoke(
            self.process, f, task_id=task_id, title=title, args=args, key=key, node=f"n{self.node}"
        )
        return op_id

    def _write(self, method: str, path: str, body: dict | None, if_match: int | None):
        """Send a write, retrying ambiguous answers with the same key.

        Returns (outcome, http_status, json, attempts, error_code): outcome "ok" (2xx), "fail"
        (definite 4xx) or "info" (no definite answer within the bounds).
        """
        assert self._key is not None  # every write has one (_invoke)
        headers = {"Idempotency-Key": self._key}
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        started = time.monotonic()
        attempts, last_error = 0, None
        while True:
            attempts += 1
            url = self.w.urls[self.node] + path
            try:
                r = self.session.request(
                    method, url, json=body, headers=headers, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
                )
            except requests.RequestException as exc:
                last_error = _exc_code(exc)
            else:
                if 200 <= r.status_code < 300:
                    return "ok", r.status_code, (r.json() if r.status_code != 204 else None), attempts, None
                if 400 <= r.status_code < 500:
                    return "fail", r.status_code, None, attempts, _error_code(r)
                last_error = _error_code(r)
            # ambiguous: the request may or may not have been applied
            self._next_node()
            stopping = self.w._stop.is_set()
            if (
                attempts >= self.w.max_attempts
                or time.monotonic() - started > self.w.retry_window
                or (stopping and attempts >= 3)
            ):
                return "info", None, None, attempts, last_error
            time.sleep(min(1.0, 0.1 * attempts) * self.rng.uniform(0.5, 1.5))

    def _finish_failure(self, op: int, outcome: str, err, attempts: int, *, f: str, task_id=None) -> None:
        self._done(op, "fail" if outcome == "fail" else "info", error=err, attempts=attempts, task_id=task_id, f=f)

    def _done(self, op: int, outcome: str, *, value=None, error=None, attempts: int = 1, task_id=None, f: str) -> None:
        self.w.history.complete(op, outcome, value, error, attempts=attempts, task_id=task_id)
        with self.w._lock:
            self.w.counts[(f, outcome)] += 1
        if outcome == "info":
            self.process += self.w.clients  # a fresh process: the old request may still be pending

    def _next_node(self) -> None:
        self.node = (self.node + 1) % len(self.w.urls)


def _error_code(r: requests.Response) -> str:
    try:
        return r.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return f"http_{r.status_code}"


def _exc_code(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, requests.ConnectionError):
        return "connection_error"
    return type(exc).__name__
