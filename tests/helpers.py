"""Shared test helpers: free ports, private MariaDB servers, HTTP calls with generous bounds."""

from __future__ import annotations

import secrets
import socket
import time

import requests

from taskraft.localcluster.cluster import DB_OFFSET, RAFT_OFFSET

# The admin token of every local cluster the tests start (tests/conftest.py): new for each test session.
TEST_ADMIN_TOKEN = "trk_test-" + secrets.token_urlsafe(24)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def ephemeral_low() -> int:
    """The first port the kernel hands out to outgoing connections (Linux: ip_local_port_range)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# Test servers listen below the ephemeral range: a port there is never taken between our check and the
# server's bind by the source port of some unrelated outgoing connection (CI saw gunicorn lose its port so).
PORT_FLOOR = 12000
_SPAN = 300
_next_base = [PORT_FLOOR + (int(time.time() * 1000) % 50) * _SPAN]


def _take_base() -> int:
    base = _next_base[0]
    _next_base[0] += _SPAN
    if _next_base[0] + _SPAN > ephemeral_low():
        _next_base[0] = PORT_FLOOR
    return base


def free_port_base(nodes: int = 3) -> int:
    """A port base below the ephemeral range where HTTP, Raft and DB ports of `nodes` nodes are all free."""
    assert nodes < 100 and DB_OFFSET + nodes < _SPAN
    while True:
        base = _take_base()
        ports = [base + off + i for off in (0, RAFT_OFFSET, DB_OFFSET) for i in range(nodes)]
        if all(port_free(p) for p in ports):
            return base


_spare: list[int] = []


def free_port() -> int:
    """One free port below the ephemeral range (taken from a block of its own, never from a node's base)."""
    while True:
        if not _spare:
            base = _take_base()
            _spare.extend(range(base, base + _SPAN))
        port = _spare.pop(0)
        if port_free(port):
            return port


def post_task(url: str, title: str, timeout: float = 10, **extra) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    headers.update(extra.pop("headers", {}))
    return requests.post(f"{url}/api/v1/tasks", json={"title": title, **extra}, headers=headers, timeout=timeout)


def wait_until(predicate, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{message} not reached within {timeout}s (last: {last!r})")


def node_db(cluster, i: int):
    import pymysql

    return pymysql.connect(  # through the socket: works whichever network namespace the node is in
        unix_socket=str(cluster.nodes[i].db.socket),
        user="taskraft",
        password=cluster.secrets["mysql_password"],
        database="taskraft",
        autocommit=True,
        connect_timeout=3,
    )


def task_titles(cluster, i: int) -> dict[int, str]:
    """Node i's tasks (id -> title), straight from its database."""
    conn = node_db(cluster, i)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT task_id, title FROM tasks")
            return dict(cur.fetchall())
    finally:
        conn.close()


def checksums(cluster, i: int) -> dict:
    from taskraft.state import queries

    conn = node_db(cluster, i)
    try:
        return queries.table_checksums(conn)
    finally:
        conn.close()


def wait_converged(cluster, nodes: list[int], timeout: float = 60) -> dict:
    """Wait until the given nodes have identical table checksums; returns them."""

    def same():
        try:
            sums = [checksums(cluster, i) for i in nodes]
        except Exception:
            return None
        return sums[0] if all(s == sums[0] for s in sums) else None

    return wait_until(same, timeout, interval=0.5, message=f"convergence of nodes {nodes}")


def task_ids(cluster, i: int) -> set[int]:
    conn = node_db(cluster, i)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT task_id FROM tasks")
            return {r[0] for r in cur.fetchall()}
    finally:
        conn.close()


class Writers:
    """Concurrent clients creating tasks through every node, retrying ambiguous failures with the same key."""

    def __init__(self, urls: list[str], clients: int = 6, prefix: str = "w"):
        import threading

        self.urls = urls
        self.clients = clients
        self.prefix = prefix
        self.acked: dict[str, int] = {}  # title -> task id
        self.ack_times: list[float] = []
        self.errors: list[str] = []
        self.retried: list[str] = []  # attempts that failed (5xx, connection) and were retried
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(c,), daemon=True) for c in range(clients)]

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(30)

    def _run(self, client: int):
        import uuid

        n = 0
        session = requests.Session()
        while not self._stop.is_set():
            n += 1
            title = f"{self.prefix}-{client}-{n}"
            key = uuid.uuid4().hex
            attempt = 0
            while not self._stop.is_set() or attempt < 40:  # finish an ambiguous write before stopping
                url = self.urls[(client + n + attempt) % len(self.urls)]
                attempt += 1
                try:
                    r = session.post(
                        f"{url}/api/v1/tasks",
                        json={"title": title},
                        headers={"Idempotency-Key": key},
                        timeout=8,
                    )
                except requests.RequestException as exc:
                    with self._lock:
                        self.retried.append(f"{url}: {type(exc).__name__}")
                    time.sleep(0.05)
                    continue
                if r.status_code == 201:
                    with self._lock:
                        self.acked[title] = r.json()["id"]
                        self.ack_times.append(time.monotonic())
                    break
                if r.status_code >= 500:
                    with self._lock:
                        self.retried.append(f"{url}: {r.status_code} {r.text[:200]}")
                    time.sleep(0.05)
                    continue
                with self._lock:
                    self.errors.append(f"{r.status_code} {r.text}")
                break

    def acks_after(self, t: float) -> int:
        with self._lock:
            return sum(1 for x in self.ack_times if x > t)


def require_netns(what: str) -> None:
    """Skip when network namespaces cannot be built here; fail instead under TASKRAFT_REQUIRE_NETNS=1
    (set by .ci/run), so that CI cannot pass by skipping the separate-host and fault tests."""
    import os

    import pytest

    from taskraft.localcluster import netns

    ok, why = netns.available()
    if ok:
        return
    message = f"{what} needs network namespaces: {why}"
    if os.environ.get("TASKRAFT_REQUIRE_NETNS") == "1":
        pytest.fail(message + " (TASKRAFT_REQUIRE_NETNS=1)")
    pytest.skip(message)
