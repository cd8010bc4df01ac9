"""One HTTP load generator for every system in the benchmark (taskraft, the Galera task API, etcd).

Runs in its own process so that its CPU is measured apart from the system under test; it reports its own
user+system CPU seconds. Python asyncio, HTTP/1.1 keep-alive, one connection per client.

Modes:
  closed loop  --clients N             N clients, each with one request in flight at a time
  open loop    --rate R --clients N    requests start on a fixed schedule of R/s over at most N connections;
                                        latency counts from the scheduled start (no coordinated omission)

Control (--control): the generator reads lines on stdin while it runs:
  "mark T"  T is a time.monotonic() value (CLOCK_MONOTONIC is shared by every process on the machine), for
            example the moment a node was killed. The generator answers on stdout with one JSON line
            {"event": "recovered", "mark": T, "window_s": W} where W is the time from T to the first
            acknowledged request that was *sent* after T (an answer to a request sent before T could be a
            write committed before the kill, so it does not count).
  "window A B"  A and B are time.monotonic() values: the report's "windows" list then holds, for each window
            given, the requests acknowledged between A and B (ops, ops/s, latency percentiles) and the errors of
            requests sent between them; so one run of the generator can be cut into periods afterwards (before,
            during and after a backup, for example).
  "stop"    finish and print the report.
With --probe-interval S, a fresh write also starts every S seconds on a new connection (round-robin over the
URLs) however long the clients' own requests hang, so the window does not depend on the request timeout.

The report is one JSON line on stdout: {"event": "report", "ops", "ops_per_s", "p50_ms", "p99_ms", ...}.

Clients:
  --client raw      (default) a minimal HTTP/1.1 client on asyncio streams (Content-Length and chunked)
  --client aiohttp  aiohttp's ClientSession (kept for the CPU comparison in bench/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import socket
import sys
import time
from array import array
from urllib.parse import urlsplit

# -- request shapes ----------------------------------------------------------------------------------

PAD = "benchmark payload " * 4  # 72 characters


def task_body(c: int, n: int) -> bytes:
    # about 100 bytes of JSON: {"title":"bench 12-3456","description":"<60 chars>"}
    return json.dumps({"title": f"bench {c}-{n}", "description": PAD[:60]}, separators=(",", ":")).encode()


def etcd_put_body(c: int, n: int) -> bytes:
    # a 16-byte key and a 64-byte value (about 100 bytes of record), base64 as the gateway wants
    key = f"bench/{c:03d}/{n:07d}".encode()[:16].ljust(16, b"_")
    value = PAD[:64].encode()
    return json.dumps(
        {"key": base64.b64encode(key).decode(), "value": base64.b64encode(value).decode()}, separators=(",", ":")
    ).encode()


def etcd_range_body(key: bytes, serializable: bool) -> bytes:
    """A range request for one key: linearizable (etcd's default) unless `serializable`."""
    body: dict = {"key": base64.b64encode(key).decode()}
    if serializable:
        body["serializable"] = True
    return json.dumps(body, separators=(",", ":")).encode()


def load_read_keys(path: str, kind: str) -> list[str]:
    """The keys reads draw from, one a line: task ids (taskraft, galera) or etcd keys (text, sent base64).
    Raises ValueError with the reason when the file is empty or a line is not a task id."""
    try:
        with open(path, encoding="utf-8") as f:
            keys = [line.strip() for line in f if line.strip()]
    except OSError as exc:
        raise ValueError(f"--read-keys {path}: {exc.strerror}") from None
    if not keys:
        raise ValueError(f"--read-keys {path}: no keys in the file")
    if kind != "etcd":
        bad = next((k for k in keys if not k.isdigit() or int(k) < 1), None)
        if bad is not None:
            raise ValueError(f"--read-keys {path}: {bad!r} is not a task id (a positive integer)")
    return keys


# The API token ($TASKRAFT_TOKEN; bench/suite.py passes the local cluster's admin token), sent on every request.
TOKEN = os.environ.get("TASKRAFT_TOKEN", "")
AUTH_LINE = b"Authorization: Bearer %s\r\n" % TOKEN.encode() if TOKEN else b""


class Workload:
    """What one request is: method, path, body and the status that counts as success."""

    def __init__(self, kind: str, op: str, consistency: str, read_ids: tuple[int, int], keys: list[str] | None = None):
        self.kind, self.op, self.consistency, self.read_ids = kind, op, consistency, read_ids
        self.keys = keys  # reads draw uniformly from these when given (else task ids from read_ids)
        self.etcd_keys = [k.encode() for k in keys] if keys and kind == "etcd" else None
        self.rng = random.Random(os.getpid())

    def request(self, c: int, n: int) -> tuple[str, str, bytes | None, int]:
        if self.kind == "etcd":
            if self.op == "write":
                return "POST", "/v3/kv/put", etcd_put_body(c, n), 200
            if self.etcd_keys is None:
                raise ValueError("etcd reads need --read-keys FILE (the keys to read)")
            key = self.rng.choice(self.etcd_keys)
            return "POST", "/v3/kv/range", etcd_range_body(key, self.consistency == "local"), 200
        if self.op == "write":
            return "POST", "/api/v1/tasks", task_body(c, n), 201
        if self.keys:
            task_id = int(self.rng.choice(self.keys))
        else:
            lo, hi = self.read_ids
            task_id = self.rng.randint(lo, hi)
        query = "?consistency=local" if self.consistency == "local" else ""
        return "GET", f"/api/v1/tasks/{task_id}{query}", None, 200


# -- a minimal HTTP/1.1 client --------------------------------------------------------------------------


class HttpError(Exception):
    pass


class RawConnection:
    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.hostheader = f"{self.host}:{self.port}".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        if self.writer is None:
            await self.connect()
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n" % (method.encode(), path.encode(), self.hostheader)
        head += AUTH_LINE
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        self.writer.write(head + b"\r\n" + (body or b""))
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = None, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if chunked:
            data = bytearray()
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                data += await self.reader.readexactly(size + 2)
                del data[-2:]
            payload = bytes(data)
        elif length is not None:
            payload = await self.reader.readexactly(length) if length else b""
        else:
            payload = await self.reader.read()
            close = True
        if close:
            self.close()
        return status, payload


class AiohttpConnection:
    """Same interface on aiohttp: one session with one connection per client."""

    def __init__(self, url: str):
        self.base = url.rstrip("/")
        self.session = None

    async def request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        import aiohttp

        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if TOKEN:
            headers["Authorization"] = f"Bearer {TOKEN}"
        async with self.session.request(method, self.base + path, data=body, headers=headers) as r:
            return r.status, await r.read()

    def close(self) -> None:
        if self.session is not None:
            asyncio.ensure_future(self.session.close())
        self.session = None


TRANSPORT_ERRORS = (
    OSError,
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
    HttpError,
    ValueError,
    IndexError,
    asyncio.TimeoutError,
)


# -- the generator -------------------------------------------------------------------------------------


class Generator:
    def __init__(self, args):
        self.args = args
        self.urls = [u.rstrip("/") for u in args.urls.split(",") if u]
        lo, hi = parse_id_range(args.read_ids or "1-1")
        keys = load_read_keys(args.read_keys, args.kind) if args.read_keys else None
        self.work = Workload(args.kind, args.op, args.consistency, (lo, hi), keys)
        self.conn_cls = AiohttpConnection if args.client == "aiohttp" else RawConnection
        self.etcd_read = args.kind == "etcd" and args.op == "read"
        self.latencies = array("d")
        self.ok = 0  # successes inside the measurement window
        self.ok_total = 0
        self.errors: dict[str, int] = {}
        self.statuses: dict[int, int] = {}
        self.measure_from = 0.0
        self.measure_to = float("inf")
        self.stopping = False
        self.marks: list[float] = []  # pending marks (time.monotonic values)
        self.in_flight = 0
        # --control: every acknowledged request's send and answer times, and every error's send time, so that
        # windows given on stdin can be measured at the end
        self.sent_at, self.done_at, self.error_at = array("d"), array("d"), array("d")
        self.windows: list[tuple[float, float]] = []

    def stop(self) -> None:
        self.stopping = True

    def note_success(self, sent: float, done: float) -> None:
        self.ok_total += 1
        if self.args.control:
            self.sent_at.append(sent)
            self.done_at.append(done)
        if self.marks:
            for mark in [m for m in self.marks if sent >= m]:
                self.marks.remove(mark)
                emit({"event": "recovered", "mark": mark, "window_s": done - mark})
        if self.measure_from <= sent and done <= self.measure_to:
            self.ok += 1
            self.latencies.append(done - sent)
        if self.args.count and self.ok_total >= self.args.count:
            self.stop()

    def note_error(self, kind: str, sent: float) -> None:
        if self.args.control:
            self.error_at.append(sent)
        if sent >= self.measure_from:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    async def one(self, conn, c: int, n: int, sent: float) -> bool:
        method, path, body, expect = self.work.request(c, n)
        try:
            status, payload = await asyncio.wait_for(conn.request(method, path, body), self.args.timeout)
        except TRANSPORT_ERRORS as exc:
            conn.close()
            self.note_error("timeout" if isinstance(exc, asyncio.TimeoutError) else "connection", sent)
            return False
        if status != expect:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.note_error(f"http_{status}", sent)
            return False
        if self.etcd_read and b'"kvs"' not in payload:
            # etcd answers 200 for a key it does not hold: counted as an error, as a 404 of the task API is
            self.note_error("etcd_key_missing", sent)
            return False
        self.note_success(sent, time.monotonic())
        return True

    async def closed_client(self, c: int) -> None:
        target = c % len(self.urls)
        conn = self.conn_cls(self.urls[target])
        n = 0
        while not self.stopping:
            n += 1
            sent = time.monotonic()
            if not await self.one(conn, c, n, sent):
                # another node may answer: rotate, and back off a little so a dead node costs no CPU
                conn.close()
                target = (target + 1) % len(self.urls)
                conn = self.conn_cls(self.urls[target])
                await asyncio.sleep(self.args.retry_delay)
        conn.close()

    async def open_loop(self) -> None:
        rate = self.args.rate
        pool: asyncio.Queue = asyncio.Queue()
        for c in range(self.args.clients):
            pool.put_nowait((c, self.conn_cls(self.urls[c % len(self.urls)])))
        counter = [0]
        tasks: set[asyncio.Task] = set()

        async def fire(scheduled: float) -> None:
            c, conn = await pool.get()
            counter[0] += 1
            if not await self.one(conn, c, counter[0], scheduled):
                conn.close()
                conn = self.conn_cls(self.urls[(c + counter[0]) % len(self.urls)])
            pool.put_nowait((c, conn))

        start = time.monotonic()
        i = 0
        while not self.stopping:
            scheduled = start + i / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            t = asyncio.ensure_future(fire(scheduled))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            i += 1
        if tasks:
            await asyncio.wait(tasks, timeout=self.args.timeout)

    async def probes(self) -> None:
        """Failover mode: a fresh write every --probe-interval seconds on a new connection, round-robin over the
        URLs, whatever the clients are stuck on; so the window measures the system, not a client's timeout."""
        tasks: set[asyncio.Task] = set()
        n = 0

        async def probe(i: int) -> None:
            conn = self.conn_cls(self.urls[i % len(self.urls)])
            try:
                await self.one(conn, 10_000 + i % 1000, i, time.monotonic())
            finally:
                conn.close()

        while not self.stopping:
            n += 1
            t = asyncio.ensure_future(probe(n))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            await asyncio.sleep(self.args.probe_interval)
        for t in list(tasks):
            t.cancel()

    async def control(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = (await reader.readline()).decode().strip()
            if not line or line == "stop":
                self.stop()
                return
            cmd, _, value = line.partition(" ")
            if cmd == "mark":
                self.marks.append(float(value))
            elif cmd == "window":
                start, end = (float(x) for x in value.split())
                self.windows.append((start, end))

    def window_report(self, start: float, end: float) -> dict:
        """The requests acknowledged in [start, end), and the errors of requests sent in it."""
        lat = sorted(d - s for s, d in zip(self.sent_at, self.done_at, strict=True) if start <= d < end)
        seconds = max(1e-9, end - start)
        return {
            "from": start,
            "to": end,
            "seconds": round(seconds, 3),
            "ops": len(lat),
            "ops_per_s": len(lat) / seconds,
            "p50_ms": pct(lat, 0.50),
            "p99_ms": pct(lat, 0.99),
            "max_ms": lat[-1] * 1000 if lat else None,
            "errors": sum(1 for t in self.error_at if start <= t < end),
        }

    async def run(self) -> dict:
        a = self.args
        began = time.monotonic()
        self.measure_from = began + a.warmup
        if a.duration:
            self.measure_to = self.measure_from + a.duration
        cpu0 = os.times()
        if a.rate:
            workers = [asyncio.ensure_future(self.open_loop())]
        else:
            workers = [asyncio.ensure_future(self.closed_client(c)) for c in range(a.clients)]
        side = [asyncio.ensure_future(self.control())] if a.control else []
        if a.probe_interval:
            side.append(asyncio.ensure_future(self.probes()))
        try:
            while not self.stopping:
                if a.duration and time.monotonic() >= self.measure_to:
                    break
                await asyncio.sleep(0.05)
        finally:
            self.stop()
            ended = min(time.monotonic(), self.measure_to)
            await asyncio.wait(workers, timeout=a.timeout + 1)
            for t in side + workers:
                t.cancel()
        cpu1 = os.times()
        window = max(1e-9, ended - self.measure_from)
        lat = sorted(self.latencies)
        return {
            "event": "report",
            "kind": a.kind,
            "op": a.op,
            "consistency": a.consistency if a.op == "read" else None,
            "mode": "open" if a.rate else "closed",
            "clients": a.clients,
            "target_rate": a.rate or None,
            "client": a.client,
            "seconds": round(window, 3),
            "ops": self.ok,
            "ops_total": self.ok_total,
            "ops_per_s": self.ok / window,
            "p50_ms": pct(lat, 0.50),
            "p90_ms": pct(lat, 0.90),
            "p99_ms": pct(lat, 0.99),
            "max_ms": lat[-1] * 1000 if lat else None,
            "mean_ms": sum(lat) / len(lat) * 1000 if lat else None,
            "errors": sum(self.errors.values()),
            "error_kinds": self.errors,
            "unexpected_status": {str(k): v for k, v in self.statuses.items()},
            "cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
            "pending_marks": self.marks,
            "windows": [self.window_report(start, end) for start, end in self.windows],
        }


def parse_id_range(text: str) -> tuple[int, int]:
    """`LO-HI` (or one id) -> (LO, HI); ValueError with the reason on anything else."""
    lo, _, hi = text.partition("-")
    if not lo.strip().isdigit() or not (hi or lo).strip().isdigit() or int(lo) > int(hi or lo):
        raise ValueError(f"--read-ids {text!r}: expected LO-HI, two task ids with LO <= HI")
    return int(lo), int(hi or lo)


def pct(sorted_values, q: float):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] * 1000


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--urls", required=True, help="comma-separated base URLs; client c starts on urls[c %% len]")
    p.add_argument(
        "--kind",
        choices=("taskraft", "galera", "etcd"),
        default="taskraft",
        help="taskraft and galera speak the task API; etcd its HTTP/JSON gateway",
    )
    p.add_argument("--op", choices=("write", "read"), default="write")
    p.add_argument(
        "--consistency",
        choices=("linearizable", "local"),
        default="linearizable",
        help="reads: linearizable (default) or local (etcd: serializable)",
    )
    p.add_argument("--read-ids", default="1-1", help="reads pick task ids uniformly from LO-HI")
    p.add_argument(
        "--read-keys",
        metavar="FILE",
        help="reads pick uniformly from the keys in FILE, one a line: task ids (taskraft, galera; instead of "
        "--read-ids) or etcd keys (needed for etcd reads)",
    )
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--rate", type=float, default=0.0, help="open loop: target requests per second")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds (0: until stopped or --count)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of load before measuring")
    p.add_argument("--count", type=int, default=0, help="stop after this many successful requests")
    p.add_argument("--timeout", type=float, default=5.0, help="per-request timeout, seconds")
    p.add_argument("--retry-delay", type=float, default=0.01, help="pause after a failed request, seconds")
    p.add_argument("--client", choices=("raw", "aiohttp"), default="raw")
    p.add_argument("--control", action="store_true", help="read mark/stop commands on stdin")
    p.add_argument(
        "--probe-interval",
        type=float,
        default=0.0,
        help="also send one fresh write every this many seconds on a new connection (failover windows)",
    )
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.read_keys and args.read_ids != "1-1":
        raise SystemExit("loadgen: give --read-ids or --read-keys, not both")
    if args.kind == "etcd" and args.op == "read" and not args.read_keys:
        raise SystemExit("loadgen: etcd reads need --read-keys FILE (the keys to read)")
    try:
        gen = Generator(args)
    except ValueError as exc:
        raise SystemExit(f"loadgen: {exc}") from None
    report = asyncio.run(gen.run())
    emit(report)


if __name__ == "__main__":
    main()
