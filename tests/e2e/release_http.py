"""HTTP to a release's members, with an API token, for the e2e tests.

Each request goes through the API server's port-forward (`pods/<pod>/portforward`, what `kubectl
port-forward` uses) on a connection of its own: to the pod named, or for a Service to one of its ready
endpoints picked at random, as the API server's service proxy picks one. Not through the proxy
subresources (`services/<svc>/proxy`): the API server authenticates a request by its Authorization header
and removes the header before proxying, so a member would never see the token.

Nothing here imports the Kubernetes client at import time: the suite skips cleanly without it.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import threading

HTTP_PORT = 8080  # the chart's http.port: the container port the Services point at
ADMIN = object()  # as a token argument: the token the Http was made with (the admin token)
CONNECT_TIMEOUT = 30.0  # seconds to open the port-forward's WebSocket


def read_admin_token(core, namespace: str, secret: str, key: str = "admin-token") -> str:
    """The admin token the chart generated, as
    `kubectl -n NAMESPACE get secret SECRET -o jsonpath='{.data.admin-token}' | base64 -d` reads it."""
    data = core.read_namespaced_secret(secret, namespace).data or {}
    assert key in data, f"Secret {namespace}/{secret} has no {key} (keys: {sorted(data)})"
    return base64.b64decode(data[key]).decode().strip()


def exchange(sock, method: str, path: str, body=None, headers: dict | None = None, timeout: float = 10.0):
    """One HTTP/1.1 request over a connected socket, which is closed afterwards: (status, body, headers), the
    body parsed as JSON when it is JSON, else its text."""
    conn = http.client.HTTPConnection("localhost", HTTP_PORT, timeout=timeout)
    sock.settimeout(timeout)
    conn.sock = sock  # already connected: http.client sends on it as it is
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers=headers or {})
        resp = conn.getresponse()
        raw = resp.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return resp.status, payload, resp.headers
    finally:
        conn.close()


class Http:
    """HTTP to a release in `namespace`: `call(method, target, path)` where target is a Service name (a ready
    endpoint of it) or `pod/<name>`. Every call sends `token` (the admin token) unless told otherwise.

    Safe to use from several threads. The port-forwards go through a CoreV1Api of their own (`forwarder`),
    one opening at a time: opening one swaps a method of its ApiClient for a WebSocket call until it is open,
    which would send another thread's plain API call (a pod listing) down the wrong path."""

    def __init__(self, discovery, namespace: str, token: str, service: str, forwarder=None):
        import websocket  # websocket-client, which the Kubernetes client's streams use

        if (websocket.getdefaulttimeout() or 0) < CONNECT_TIMEOUT:
            websocket.setdefaulttimeout(CONNECT_TIMEOUT)  # a stuck handshake fails instead of hanging the test
        if forwarder is None:
            from kubernetes import client

            forwarder = client.CoreV1Api(client.ApiClient())  # the loaded kubeconfig, its own connection state
        self.discovery, self.forwarder = discovery, forwarder
        self.ns, self.token, self.service = namespace, token, service
        self._opening = threading.Lock()

    def headers(self, token=ADMIN) -> dict:
        """Request headers with `Authorization: Bearer` for the token (ADMIN: this Http's; None: no header)."""
        token = self.token if token is ADMIN else token
        base = {"Content-Type": "application/json", "Accept": "application/json"}
        return {**base, "Authorization": f"Bearer {token}"} if token else base

    def ready_pods(self, service: str) -> list[str]:
        """The pods behind the Service's ready endpoints (EndpointSlices; a missing condition counts as ready)."""
        slices = self.discovery.list_namespaced_endpoint_slice(
            self.ns, label_selector=f"kubernetes.io/service-name={service}"
        ).items
        return sorted(
            {
                e.target_ref.name
                for s in slices
                for e in (s.endpoints or [])
                if e.target_ref is not None
                and e.target_ref.kind == "Pod"
                and (e.conditions is None or e.conditions.ready is not False)
            }
        )

    def call(self, method: str, target: str, path: str, body=None, timeout: float = 10, token=ADMIN):
        """(status, body) of the request; (None, what went wrong) when there was no answer (no ready endpoint,
        a pod going away, a timeout)."""
        status, payload, _ = self.call_with_headers(method, target, path, body, timeout, token)
        return status, payload

    def call_with_headers(self, method: str, target: str, path: str, body=None, timeout: float = 10, token=ADMIN):
        from kubernetes.stream import portforward

        try:
            if target.startswith("pod/"):
                pod = target[4:]
            else:
                pods = self.ready_pods(target)
                if not pods:
                    return None, f"no ready endpoint behind Service {target}", None
                pod = random.choice(pods)
            with self._opening:
                forward = portforward(
                    self.forwarder.connect_get_namespaced_pod_portforward, pod, self.ns, ports=str(HTTP_PORT)
                )
        except Exception as exc:  # the pod is gone, the API server did not answer
            return None, repr(exc), None
        try:
            return exchange(forward.socket(HTTP_PORT), method, path, body, self.headers(token), timeout)
        except Exception as exc:  # connection reset while a pod goes away, timeouts
            return None, f"{exc!r} via {pod} ({forward.error(HTTP_PORT) or 'no port-forward error'})", None
        finally:
            forward.close()

    def create(self, title: str, target: str | None = None):
        return self.call("POST", target or self.service, "/api/v1/tasks", {"title": title})

    def get(self, task_id: int, target: str | None = None, local: bool = False):
        q = "?consistency=local" if local else ""
        return self.call("GET", target or self.service, f"/api/v1/tasks/{task_id}{q}")
