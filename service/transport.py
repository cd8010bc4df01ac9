"""TLS on the HTTP port, as the nodes use it among themselves.

With TASKRAFT_TLS_CERT_FILE and TASKRAFT_TLS_KEY_FILE set, gunicorn serves HTTPS on the HTTP port
(gunicorn_conf.py), the node registers an `https://` API URL, and every request one node makes to
another (the cluster view's fan-out, a membership change forwarded to the leader, recovery's probe)
verifies the peer's certificate against TASKRAFT_TLS_CA_FILE (the system's CAs when unset). Raft
traffic does not go through here: it is encrypted and authenticated with the Raft secret.
"""

from __future__ import annotations

import os
import ssl

import requests

CERT_ENV = "TASKRAFT_TLS_CERT_FILE"
KEY_ENV = "TASKRAFT_TLS_KEY_FILE"
CA_ENV = "TASKRAFT_TLS_CA_FILE"


def scheme(tls: bool) -> str:
    return "https" if tls else "http"


def verify_setting(ca_file: str | None) -> str | bool:
    """The `verify` argument of requests: the CA bundle when one is set, else the system's CAs."""
    return ca_file or True


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """A client context that verifies certificates and host names against `ca_file` (or the system's)."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


def internal_session(ca_file: str | None) -> requests.Session:
    """A session for node-to-node calls: verifies against the CA, ignores the environment's proxies."""
    session = requests.Session()
    session.trust_env = False  # internal traffic: HTTP(S)_PROXY of the environment is for the outside
    session.verify = verify_setting(ca_file)
    return session


def ca_file_from_env() -> str | None:
    return os.environ.get(CA_ENV) or None
