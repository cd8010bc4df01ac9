"""A small HTTP client for the taskraft API that fails over between nodes.

    client = Client(["http://127.0.0.1:8080", "http://127.0.0.1:8081"])
    task = client.create_task("write the docs")
    client.update_task(task["id"], status="done", if_match=task["version"])

Any node accepts any request. The client sends each request to the node that answered last and
moves on to the next node on a connection error, a timeout or a 5xx (503 mostly); after a full round without an
answer it waits a little and starts again, until the overall deadline. Writes carry an
Idempotency-Key that is generated once per call and reused on every retry, so a write whose outcome
was unknown (a node died, or 503 no_quorum) is applied at most once.

Errors are typed: UsageError (400), AuthError (401, 403, 429), NotFound (404), Conflict (409, 412,
422), Unavailable (no node gave an answer before the deadline). Each carries the CLI exit code it
maps to.

Every request carries `Authorization: Bearer <token>`: the token given, else $TASKRAFT_TOKEN, else
the admin token of the local cluster in `--data-dir` (`DIR/admin-token`).
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import quote

import requests
from pydantic import BaseModel
from tenacity import Retrying, retry_if_exception_type, wait_exponential

from .api.models import STATUSES, TaskCreate, TaskPatch
from .client_errors import AuthError, CertificateError, ClientError, Conflict, NotFound, Unavailable, UsageError
from .client_setup import resolve_token, resolve_urls, urls_from_data_dir
from .client_tls import resolve_ca_file, tls_reason

__all__ = [  # the errors and option helpers live in their own modules; callers import them from here
    "AuthError",
    "CertificateError",
    "Client",
    "ClientError",
    "Conflict",
    "NotFound",
    "Unavailable",
    "UsageError",
    "resolve_token",
    "resolve_urls",
    "urls_from_data_dir",
]


def _task_body(model: type[BaseModel], fields: dict) -> dict:
    """The fields that are set, checked against the API's own request model (names, and the status names)."""
    body = {name: value for name, value in fields.items() if value is not None}
    unknown = sorted(set(body) - set(model.model_fields))
    if unknown:
        raise UsageError(f"unknown task field(s): {', '.join(unknown)} (known: {', '.join(model.model_fields)})")
    if "status" in body and body["status"] not in STATUSES:
        raise UsageError(f"unknown status {body['status']!r} (one of {', '.join(STATUSES)})")
    return body


class _NoAnswer(Exception):
    """A round over every node got no usable answer (retried by Client.request until the deadline)."""


def _error_of(response: requests.Response) -> tuple[str, str]:
    try:
        err = response.json()["error"]
        return err.get("code", "error"), err.get("message", response.reason)
    except (ValueError, KeyError, TypeError):
        return "http_error", f"HTTP {response.status_code} {response.reason}"


class Client:
    def __init__(
        self,
        urls,
        deadline: float = 30.0,
        connect_timeout: float = 2.0,
        read_timeout: float = 10.0,
        session: requests.Session | None = None,
        ca_file: str | None = None,
        token: str | None = None,
    ):
        self.urls = [u.rstrip("/") for u in urls]
        if not self.urls:
            raise UsageError("no node URL given")
        self.deadline = deadline
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout  # above the server's request timeout (5 s), so a 503 arrives first
        self.session = session or requests.Session()
        # given with each request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's own
        self.verify: str | None = ca_file or None
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self._preferred = 0
        self.last_url: str | None = None

    @classmethod
    def from_options(cls, urls=(), data_dir=None, ca_file=None, token=None, **kwargs) -> Client:
        return cls(
            resolve_urls(urls, data_dir),
            ca_file=resolve_ca_file(ca_file, data_dir),
            token=resolve_token(token, data_dir),
            **kwargs,
        )

    # -- transport ---------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json_body=None, params=None, headers=None, write=False, stream=False):
        """Send one logical request, failing over between nodes; returns the final requests.Response.

        One attempt is a round over every node, starting with the one that answered last. After a round
        without an answer, tenacity waits 0.2, 0.4, 0.8, then 1 s (never past the deadline) and starts
        another round; a round that finds the deadline passed raises Unavailable."""
        headers = dict(headers or {})
        if write:
            headers.setdefault("Idempotency-Key", uuid.uuid4().hex)
        end = time.monotonic() + self.deadline
        last_problem = "no attempt made"

        def one_round() -> requests.Response:
            nonlocal last_problem
            tls_refused: list[str] = []
            for step in range(len(self.urls)):
                i = (self._preferred + step) % len(self.urls)
                url = self.urls[i]
                remaining = end - time.monotonic()
                if remaining <= 0:
                    raise Unavailable(f"no node answered within {self.deadline:g}s (last: {last_problem})")
                timeout = (min(self.connect_timeout, remaining), min(self.read_timeout, max(remaining, 0.1)))
                try:
                    response = self.session.request(
                        method,
                        url + path,
                        json=json_body,
                        params=params,
                        headers=headers,
                        timeout=timeout,
                        verify=self.verify,
                        stream=stream,  # True: the body is read by the caller, as it arrives
                    )
                except requests.exceptions.SSLError as exc:
                    last_problem = f"{url}: TLS failed: {tls_reason(exc)}"
                    tls_refused.append(last_problem)
                    continue
                except requests.RequestException as exc:
                    last_problem = f"{url}: {type(exc).__name__}"
                    continue
                if response.status_code >= 500:  # 503 no_quorum / starting / database_unavailable
                    code, message = _error_of(response)
                    last_problem = f"{url}: {response.status_code} {code}: {message}"
                    continue
                self._preferred = i
                self.last_url = url
                return self._check(response)
            if len(tls_refused) == len(self.urls):  # retrying would not change a certificate
                raise CertificateError(
                    "; ".join(tls_refused) + " (give the CA that signed the nodes' certificates: --ca-file or "
                    "TASKRAFT_CA_FILE)"
                )
            raise _NoAnswer(last_problem)

        backoff = wait_exponential(multiplier=0.2, max=1.0)
        retrying = Retrying(
            retry=retry_if_exception_type(_NoAnswer),
            wait=lambda state: min(backoff(state), max(end - time.monotonic(), 0.0)),
            reraise=True,
        )
        return retrying(one_round)

    @staticmethod
    def _check(response: requests.Response) -> requests.Response:
        status = response.status_code
        if status < 400:
            return response
        code, message = _error_of(response)
        body = None
        try:
            body = response.json()
        except ValueError:
            pass
        cls = {401: AuthError, 403: AuthError, 404: NotFound, 409: Conflict, 412: Conflict, 422: Conflict}.get(status)
        cls = AuthError if status == 429 else cls
        if cls is None:
            cls = UsageError if 400 <= status < 500 else Unavailable
        raise cls(message, status=status, code=code, body=body)

    # -- members -----------------------------------------------------------------------------------

    def members(self) -> dict:
        return self.request("GET", "/api/v1/cluster/members").json()

    def change_member(self, action: str, member: str) -> dict:
        """Add (a Raft address) or remove (an address or node id) one member; any node forwards it to the leader."""
        if action == "add":
            return self.request("POST", "/api/v1/cluster/members", json_body={"address": member}).json()
        return self.request("DELETE", f"/api/v1/cluster/members/{quote(member, safe='')}").json()

    # -- tasks -------------------------------------------------------------------------------------

    def list_tasks(self, status: str | None = None, limit: int = 100, after: int | None = None) -> dict:
        params: dict[str, str | int] = {"limit": limit}
        if status:
            params["status"] = status
        if after is not None:
            params["after"] = after
        return self.request("GET", "/api/v1/tasks", params=params).json()

    def iter_tasks(self, status: str | None = None, page_size: int = 500):
        after = None
        while True:
            page = self.list_tasks(status=status, limit=page_size, after=after)
            yield from page["items"]
            after = page.get("next")
            if after is None:
                return

    def create_task(self, title: str, description: str | None = None, status: str | None = None) -> dict:
        body = _task_body(TaskCreate, {"title": title, "description": description, "status": status})
        return self.request("POST", "/api/v1/tasks", json_body=body, write=True).json()

    def get_task(self, task_id: int) -> dict:
        return self.request("GET", f"/api/v1/tasks/{int(task_id)}").json()

    def update_task(self, task_id: int, if_match: int | None = None, **fields) -> dict:
        body = _task_body(TaskPatch, fields)
        headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
        return self.request(
            "PATCH", f"/api/v1/tasks/{int(task_id)}", json_body=body, headers=headers, write=True
        ).json()

    def delete_task(self, task_id: int, if_match: int | None = None) -> None:
        headers = {"If-Match": f'"{if_match}"'} if if_match is not None else None
        self.request("DELETE", f"/api/v1/tasks/{int(task_id)}", headers=headers, write=True)

    def history(self, task_id: int) -> dict:
        return self.request("GET", f"/api/v1/tasks/{int(task_id)}/history").json()

    # -- cluster -----------------------------------------------------------------------------------

    def node_view(self, url: str, timeout: float = 2.0) -> dict | None:
        """One node's own /api/v1/cluster answer, or None if it does not answer (no failover here)."""
        try:
            r = self.session.get(url.rstrip("/") + "/api/v1/cluster", timeout=timeout, verify=self.verify)
            return r.json() if r.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None

    def cluster_overview(self, timeout: float = 3.0) -> dict | None:
        """Every member's own view as one node gathered it (/api/v1/cluster/nodes), from the first given node
        that answers, starting with the one that answered last; None if none does."""
        for step in range(len(self.urls)):
            url = self.urls[(self._preferred + step) % len(self.urls)]
            try:
                r = self.session.get(url + "/api/v1/cluster/nodes", timeout=timeout, verify=self.verify)
                overview = r.json() if r.status_code == 200 else None
            except (requests.RequestException, ValueError):
                continue
            if isinstance(overview, dict) and isinstance(overview.get("nodes"), list):
                self.last_url = url
                return overview
        return None

    def cluster_status(self, timeout: float = 2.0) -> list[dict]:
        """One row per member: {url, node_id, reachable, role, term, commit_index, last_applied, lag, leader,
        has_quorum, membership, last_contact_s}, each member's own view.

        One node that answers is enough: it gathers every member's view over the cluster's own network (so
        `--url` can be a Service or a port-forward). lag = the highest commit index seen minus the member's
        applied index; last_contact_s = seconds since the leader last heard from it. If no node gathers
        (none answers, or they predate /api/v1/cluster/nodes), each given URL and the members they report
        are asked directly.
        """
        overview = self.cluster_overview(timeout + 1.0)
        if overview is None:
            return self._asked_directly(timeout)
        rows = []
        for member in overview["nodes"]:
            rows.append(
                {
                    "url": member.get("api_url"),
                    "node_id": member.get("node_id"),
                    "reachable": bool(member.get("reachable")),
                    "role": member.get("role"),
                    "term": member.get("term"),
                    "commit_index": member.get("commit_index"),
                    "last_applied": member.get("last_applied"),
                    "lag": member.get("lag"),
                    "leader": member.get("leader_id"),
                    "has_quorum": member.get("has_quorum"),
                    "membership": member.get("membership"),
                    "last_contact_s": member.get("last_contact_s"),
                }
            )
        return rows

    def _asked_directly(self, timeout: float) -> list[dict]:
        """Rows from each node's own view: the given URLs plus every api_url the answering nodes report."""
        urls = list(self.urls)
        views: dict[str, dict | None] = {}
        ids: dict[str, str] = {}
        pending = list(urls)
        while pending:
            url = pending.pop(0)
            if url in views:
                continue
            view = views[url] = self.node_view(url, timeout)
            for member in (view or {}).get("nodes", []):
                api = (member.get("api_url") or "").rstrip("/")
                if member.get("node_id"):
                    ids.setdefault(api, member["node_id"])
                if api and api not in views and api not in pending:
                    urls.append(api)
                    pending.append(api)
        top = max((v["commit_index"] for v in views.values() if v), default=None)
        rows = []
        for url in urls:
            view = views.get(url)
            row = {"url": url, "node_id": ids.get(url), "reachable": view is not None}
            if view:
                row.update(
                    node_id=view["node_id"],
                    role=view["role"],
                    term=view["term"],
                    commit_index=view["commit_index"],
                    last_applied=view["last_applied"],
                    lag=(top - view["last_applied"]) if top is not None else None,
                    leader=view.get("leader_id") or view.get("leader"),
                    has_quorum=view.get("has_quorum"),
                )
            else:
                row.update(
                    role=None, term=None, commit_index=None, last_applied=None, lag=None, leader=None, has_quorum=None
                )
            rows.append(row)
        # the same node may be known under two spellings of its URL: keep the row that answered
        seen: dict[str, dict] = {}
        out: list[dict] = []
        for row in rows:
            nid = row["node_id"]
            if nid and nid in seen:
                if row["reachable"] and not seen[nid]["reachable"]:
                    out[out.index(seen[nid])] = row
                    seen[nid] = row
                continue
            if nid:
                seen[nid] = row
            out.append(row)
        return sorted(out, key=lambda r: (r["node_id"] is None, r["node_id"] or "", r["url"]))
