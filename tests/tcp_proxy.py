"""One address in front of the nodes, like a Kubernetes Service: a round-robin TCP proxy.

Each new client connection goes to the next node whose `/readyz` answers 200 (polled every
`poll` seconds, like a Service's endpoints); bytes are copied both ways by two threads until either
side closes. A connection stays with its node (HTTP keep-alive included) until that node goes away,
as through kube-proxy. With no ready node, a new connection is closed at once.
"""

from __future__ import annotations

import socket
import threading

import requests


class RoundRobinProxy:
    def __init__(self, backends: list[str], host: str = "127.0.0.1", port: int = 0, poll: float = 0.3):
        self.backends = [b.rstrip("/") for b in backends]
        self.poll = poll
        self._listener = socket.create_server((host, port))
        self.host, self.port = self._listener.getsockname()[:2]
        self._ready: list[str] = []
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sockets: set[socket.socket] = set()
        self.chosen: list[str] = []  # the backend of each connection, in order

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> RoundRobinProxy:
        self._check_readiness()
        threading.Thread(target=self._watch, name="proxy-readiness", daemon=True).start()
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            for sock in list(self._sockets):
                _close(sock)

    @property
    def ready(self) -> list[str]:
        with self._lock:
            return list(self._ready)

    def _check_readiness(self) -> None:
        ready = []
        for url in self.backends:
            try:
                if requests.get(url + "/readyz", timeout=0.5).status_code == 200:
                    ready.append(url)
            except requests.RequestException:
                pass
        with self._lock:
            self._ready = ready

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            self._check_readiness()

    def _pick(self) -> list[str]:
        """The ready backends, starting with the next one in turn."""
        with self._lock:
            ready = list(self._ready)
            start = self._next
            self._next += 1
        return [ready[(start + i) % len(ready)] for i in range(len(ready))]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), name="proxy-conn", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        for url in self._pick():
            host, _, port = url.split("://", 1)[1].partition(":")
            try:
                upstream = socket.create_connection((host, int(port)), timeout=1.0)
            except OSError:
                continue
            upstream.settimeout(None)
            with self._lock:
                self.chosen.append(url)
            break
        if upstream is None:
            _close(client)
            return
        with self._lock:
            self._sockets.update((client, upstream))
        threading.Thread(target=_pump, args=(upstream, client), name="proxy-down", daemon=True).start()
        _pump(client, upstream)

    def connections_to(self, url: str) -> int:
        with self._lock:
            return self.chosen.count(url.rstrip("/"))


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy src to dst until src ends or fails; then close both (the other pump ends with them)."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        _close(src)
        _close(dst)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
