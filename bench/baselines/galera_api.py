"""A stateless task API over MariaDB Galera: the baseline the benchmark compares taskraft with.

Same routes and validation rules as taskraft for creating and reading tasks:
  POST /api/v1/tasks {title, description?, status?} -> 201 (title 1..200 chars after trimming,
       description <= 10,000, status todo|in_progress|done, JSON objects only, unknown fields rejected)
  GET  /api/v1/tasks/<id>  -> 200 or 404;   GET /api/v1/tasks?limit=N (1..500)
Reads are linearizable, as taskraft's are by default: every connection runs with the session variable
wsrep_sync_wait=1, so a SELECT first waits until the node has applied every write the cluster had committed
when the SELECT arrived (Galera's causality check). `GET /api/v1/tasks/<id>?consistency=local` reads what
the node has applied (wsrep_sync_wait=0 for that statement); any other consistency is a 400.
Errors: {"error": {"code", "message", "details"?}} with 400 invalid_request, 404, 413, 415.

Run with gunicorn, gthread, 1 worker x 16 threads; each thread keeps its own pymysql connection (autocommit).
Configuration (environment):
  GALERA_API_HOSTS     host:port[,host:port...]  the first is the node the API reads from and writes to; the
                       others are tried, in order, only when a connection to it cannot be made (a client-side
                       failover). bench/systems.py runs one API per member, each with its own member first.
  GALERA_API_USER, GALERA_API_PASSWORD, GALERA_API_DATABASE
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from typing import Literal

import pymysql
from flask import Flask, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from werkzeug.exceptions import HTTPException

TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
MAX_BODY = 64 * 1024
# wsrep_sync_wait bit 1: reads (SELECT, SHOW, BEGIN) wait for the cluster's causality check; writes unaffected
SYNC_WAIT = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    title VARCHAR(200) NOT NULL,
    description TEXT NOT NULL,
    status ENUM('todo','in_progress','done') NOT NULL DEFAULT 'todo',
    created_at DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    version BIGINT UNSIGNED NOT NULL DEFAULT 1
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
"""


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    title: str
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    status: Literal["todo", "in_progress", "done"] = "todo"

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = value.strip()
        if not 1 <= len(value) <= TITLE_MAX:
            raise ValueError(f"title must be 1..{TITLE_MAX} characters after trimming")
        return value


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details=None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def _hosts() -> list[tuple[str, int]]:
    out = []
    for item in os.environ.get("GALERA_API_HOSTS", "127.0.0.1:3306").split(","):
        host, _, port = item.strip().rpartition(":")
        out.append((host or "127.0.0.1", int(port)))
    return out


HOSTS = _hosts()
_local = threading.local()
_backends: dict[int, str] = {}  # thread id -> host:port of its current connection


def _connect():
    last = None
    for host, port in HOSTS:
        try:
            conn = pymysql.connect(
                host=host,
                port=port,
                user=os.environ.get("GALERA_API_USER", "bench"),
                password=os.environ.get("GALERA_API_PASSWORD", ""),
                database=os.environ.get("GALERA_API_DATABASE", "bench"),
                autocommit=True,
                connect_timeout=2,
                read_timeout=30,
                write_timeout=30,
                charset="utf8mb4",
                init_command=f"SET SESSION wsrep_sync_wait={SYNC_WAIT}",
            )
            _backends[threading.get_ident()] = f"{host}:{port}"
            return conn
        except pymysql.err.MySQLError as exc:
            last = exc
    raise last


def _run(fn):
    """fn(cursor) on this thread's connection; one reconnect (to the first host that answers) on failure."""
    for attempt in (0, 1):
        conn = getattr(_local, "conn", None)
        try:
            if conn is None:
                conn = _local.conn = _connect()
            with conn.cursor() as cur:
                return fn(cur)
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as exc:
            try:
                if conn is not None:
                    conn.close()
            except Exception:
                pass
            _local.conn = None
            if attempt == 1:
                raise ApiError(503, "database_unavailable", f"the database is not answering: {exc.args[:1]}") from exc


def _row(row) -> dict:
    task_id, title, description, status, created, updated, version = row

    def fmt(t):
        return t.replace(tzinfo=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    return {
        "id": task_id,
        "title": title,
        "description": description,
        "status": status,
        "created_at": fmt(created),
        "updated_at": fmt(updated),
        "version": version,
    }


app = Flask(__name__)


@app.errorhandler(ApiError)
def _api_error(exc: ApiError):
    body = {"code": exc.code, "message": exc.message}
    if exc.details is not None:
        body["details"] = exc.details
    response = jsonify({"error": body})
    response.status_code = exc.status
    return response


@app.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    codes = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    return _api_error(ApiError(exc.code or 500, codes.get(exc.code, "http_error"), exc.description or exc.name))


@app.post("/api/v1/tasks")
def create_task():
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "payload_too_large", "request body is larger than 64 KiB")
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(
            400,
            "invalid_request",
            "the body must be a JSON object",
            [{"field": "body", "message": "expected an object"}],
        )
    try:
        task = TaskCreate.model_validate(data)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"].removeprefix("Value error, ")}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise ApiError(400, "invalid_request", "the request has invalid fields", details) from None
    now = datetime.now(UTC).replace(tzinfo=None)

    def insert(cur):
        cur.execute(
            "INSERT INTO tasks (title, description, status, created_at, updated_at) VALUES (%s, %s, %s, %s, %s)",
            (task.title, task.description, task.status, now, now),
        )
        return cur.lastrowid

    task_id = _run(insert)
    body = {
        "id": task_id,
        **task.model_dump(),
        "created_at": now.isoformat(timespec="milliseconds") + "Z",
        "updated_at": now.isoformat(timespec="milliseconds") + "Z",
        "version": 1,
    }
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/tasks/{task_id}"
    response.headers["ETag"] = '"1"'
    return response


@app.get("/api/v1/tasks/<int:task_id>")
def get_task(task_id: int):
    consistency = request.args.get("consistency", "linearizable")
    if consistency not in ("linearizable", "local"):
        raise ApiError(
            400,
            "invalid_request",
            "consistency must be linearizable or local",
            [{"field": "consistency", "message": "expected linearizable or local"}],
        )
    # linearizable: the session's wsrep_sync_wait; local: this statement only, without the causality wait
    prefix = "SET STATEMENT wsrep_sync_wait=0 FOR " if consistency == "local" else ""

    def select(cur):
        cur.execute(
            prefix + "SELECT id, title, description, status, created_at, updated_at, version FROM tasks WHERE id=%s",
            (task_id,),
        )
        return cur.fetchone()

    row = _run(select)
    if row is None:
        raise ApiError(404, "not_found", "task not found")
    response = jsonify(_row(row))
    response.headers["ETag"] = f'"{row[6]}"'
    return response


@app.get("/bench/sync-wait")
def sync_wait():
    """The wsrep_sync_wait of this thread's connection (to check that reads are linearizable)."""

    def query(cur):
        cur.execute("SELECT @@SESSION.wsrep_sync_wait")
        return cur.fetchone()[0]

    return jsonify({"wsrep_sync_wait": int(_run(query))})


@app.get("/api/v1/tasks")
def list_tasks():
    raw = request.args.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise ApiError(
            400,
            "invalid_request",
            "limit must be between 1 and 500",
            [{"field": "limit", "message": "out of range 1..500"}],
        )

    def select(cur):
        cur.execute(
            "SELECT id, title, description, status, created_at, updated_at, version FROM tasks ORDER BY id LIMIT %s",
            (int(raw),),
        )
        return cur.fetchall()

    return jsonify({"items": [_row(r) for r in _run(select)], "next": None})


@app.get("/bench/backend")
def backend():
    """Which database node(s) the threads are connected to right now (for the failover scenario)."""
    return jsonify({"backends": sorted(set(_backends.values())), "hosts": [f"{h}:{p}" for h, p in HOSTS]})


@app.get("/readyz")
def readyz():
    _run(lambda cur: cur.execute("SELECT 1"))
    return jsonify({"ready": True})
