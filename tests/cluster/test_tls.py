"""TLS on the HTTP port and the browser-facing headers, on real node processes over real sockets.

One 3-node local cluster started as `taskraft cluster up --tls` starts it (LocalCluster(tls=True): a CA
and a certificate per node, made once in the data dir), with one CORS origin allowed. The cluster view
gathered by one node reaches every member over verified https; a membership change asked of a
follower is forwarded to the leader over https; the CLI verifies with --ca-file or a data dir's CA and
fails clearly without; plain http to the TLS port gets no answer; CORS answers exactly the allowed
origin.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import stat

import pytest
import requests

from taskraft.cluster_overview import fetch_own_view
from taskraft.localcluster.cluster import LocalCluster

from ..cli.run import run
from ..conftest import dump_logs
from ..helpers import free_port, free_port_base

pytestmark = pytest.mark.cluster

ALLOWED = "https://board.example"


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory):
    path = tmp_path_factory.mktemp("tls-cluster")
    c = LocalCluster(path, nodes=3, port_base=free_port_base(3), tls=True, extra_env={"TASKRAFT_CORS_ORIGINS": ALLOWED})
    try:
        c.start(wait=180)
        c.wait_leader(30)
    except BaseException:
        dump_logs(c)
        c.stop()
        raise
    yield c
    c.stop()


@pytest.fixture
def ca(tls_cluster) -> str:
    assert isinstance(tls_cluster.verify, str)
    return tls_cluster.verify


def test_certificates_are_made_once_with_private_keys(tls_cluster, ca):
    tls = tls_cluster.data_dir / "tls"
    keys = sorted(tls.glob("*.key"))
    assert [k.name for k in keys] == ["ca.key", "node-0.key", "node-1.key", "node-2.key"]
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    before = {p.name: p.read_bytes() for p in tls.iterdir()}
    again = LocalCluster(tls_cluster.data_dir, nodes=3, port_base=tls_cluster.port_base, tls=True)
    for i in range(3):
        again.node_env(i)
    assert {p.name: p.read_bytes() for p in tls.iterdir()} == before, "certificates were made again"
    manifest = json.loads((tls_cluster.data_dir / "cluster.json").read_text())
    assert manifest["ca_file"] == ca
    assert all(n["url"].startswith("https://127.0.0.1:") for n in manifest["nodes"])
    for i in range(3):  # no key material in the nodes' logs
        assert "PRIVATE KEY" not in tls_cluster.nodes[i].log_path.read_text()


def test_the_cluster_view_of_one_node_reaches_every_member_over_verified_https(tls_cluster, ca):
    for i in range(3):
        view = requests.get(f"{tls_cluster.urls[i]}/api/v1/cluster/nodes", verify=ca, timeout=10).json()
        assert view["answering"] == 3, view
        for member in view["nodes"]:
            assert member["reachable"] is True, member
            assert member["api_url"].startswith("https://127.0.0.1:"), member
        assert sorted(m["node_id"] for m in view["nodes"]) == ["node-0", "node-1", "node-2"]
        roles = sorted(m["role"] for m in view["nodes"])
        assert roles == ["follower", "follower", "leader"], view


def test_certificates_are_verified_not_just_encrypted(tls_cluster, ca):
    url = tls_cluster.urls[0]
    assert fetch_own_view(url, ca_file=ca)["node_id"] == "node-0"
    with pytest.raises(requests.exceptions.SSLError, match="certificate verify failed"):
        fetch_own_view(url)  # the system's CAs do not know the cluster's CA
    # a certificate made for other names is refused: the names are checked, not only the signature
    port = tls_cluster.nodes[0].http_port
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError, match="match"):
            ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname="another-node.example")


def test_plain_http_to_the_tls_port_gets_no_answer(tls_cluster):
    plain = tls_cluster.urls[0].replace("https://", "http://")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{plain}/healthz", timeout=5)


def test_writes_and_membership_changes_through_followers(tls_cluster, ca):
    leader = tls_cluster.wait_leader(30)
    followers = [i for i in range(3) if i != leader]
    r = requests.post(
        f"{tls_cluster.urls[followers[0]]}/api/v1/tasks", json={"title": "over https"}, verify=ca, timeout=15
    )
    assert r.status_code == 201, r.text
    got = requests.get(f"{tls_cluster.urls[followers[1]]}/api/v1/tasks/{r.json()['id']}", verify=ca, timeout=10)
    assert got.status_code == 200 and got.json()["title"] == "over https"

    # A follower forwards a membership change to the leader's https API URL (member_changes.py); a learner
    # that never answers changes no quorum. Refused verification would answer 503 not_leader.
    learner = f"127.0.0.1:{free_port()}"
    added = requests.post(
        f"{tls_cluster.urls[followers[0]]}/api/v1/cluster/members", json={"address": learner}, verify=ca, timeout=30
    )
    assert added.status_code == 202, added.text
    assert added.json()["address"] == learner
    removed = requests.delete(
        f"{tls_cluster.urls[followers[1]]}/api/v1/cluster/members/{learner}", verify=ca, timeout=30
    )
    assert removed.status_code == 200, removed.text


def _cli(*args: str, env: dict | None = None):
    clean = {k: v for k, v in os.environ.items() if k != "TASKRAFT_CA_FILE"}
    return run(*args, env={**clean, **(env or {})}, timeout=120)


def test_cli_verifies_with_the_ca_and_fails_clearly_without(tls_cluster, ca):
    url = tls_cluster.urls[1]
    ok = _cli("tasks", "add", "from the cli", "--url", url, "--ca-file", ca)
    assert ok.returncode == 0, ok.stderr
    assert "created task" in ok.stdout
    ok = _cli("tasks", "list", "--data-dir", str(tls_cluster.data_dir))  # the data dir's CA
    assert ok.returncode == 0 and "from the cli" in ok.stdout, ok.stderr
    ok = _cli("tasks", "list", "--url", url, env={"TASKRAFT_CA_FILE": ca})
    assert ok.returncode == 0 and "from the cli" in ok.stdout, ok.stderr

    refused = _cli("tasks", "list", "--url", url, "--timeout", "20")
    assert refused.returncode == 3, (refused.stdout, refused.stderr)
    assert "Traceback" not in refused.stderr
    assert "certificate verify failed" in refused.stderr and "--ca-file" in refused.stderr, refused.stderr
    assert refused.stderr.startswith("Error: "), refused.stderr


def test_cors_allows_exactly_the_configured_origin(tls_cluster, ca):
    url = f"{tls_cluster.urls[0]}/api/v1/tasks"
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    r = requests.options(url, headers={"Origin": ALLOWED, **preflight}, verify=ca, timeout=10)
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Origin" in r.headers["Vary"] and "Idempotency-Key" in r.headers["Access-Control-Allow-Headers"]
    r = requests.get(url, headers={"Origin": ALLOWED}, verify=ca, timeout=10)
    assert r.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "X-Taskraft-Node" in r.headers["Access-Control-Expose-Headers"]
    for foreign in ("https://other.example", "http://board.example"):
        r = requests.options(url, headers={"Origin": foreign, **preflight}, verify=ca, timeout=10)
        assert "Access-Control-Allow-Origin" not in r.headers, foreign
        r = requests.get(url, headers={"Origin": foreign}, verify=ca, timeout=10)
        assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers, foreign


def test_security_headers_from_a_real_node(tls_cluster, ca):
    page = requests.get(f"{tls_cluster.urls[2]}/", verify=ca, timeout=10)
    assert page.status_code == 200 and "script-src 'self'" in page.headers["Content-Security-Policy"]
    api = requests.get(f"{tls_cluster.urls[2]}/api/v1/cluster", verify=ca, timeout=10)
    for r in (page, api):
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_cluster_up_tls_prints_https_urls_and_keeps_tls_on_the_next_start(tmp_path):
    from .test_cluster_command import _up

    base = free_port_base(1)
    url = f"https://127.0.0.1:{base}"
    proc, out = _up(tmp_path, base, "--nodes", "1", "--tls")
    try:
        assert f"node-0  {url}  (leader" in out, out
        assert str(tmp_path / "tls" / "ca.crt") in out  # the curl example names the CA
        assert "PRIVATE KEY" not in out
        ca = json.loads((tmp_path / "cluster.json").read_text())["ca_file"]
        assert requests.get(f"{url}/readyz", verify=ca, timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0
    key = (tmp_path / "tls" / "node-0.key").read_bytes()
    proc, out = _up(tmp_path, base, "--nodes", "1")  # no flag: as the last start
    try:
        assert f"node-0  {url}  (leader" in out, out
        assert (tmp_path / "tls" / "node-0.key").read_bytes() == key  # kept, not made again
        done = _cli("tasks", "add", "resumed over https", "--data-dir", str(tmp_path))
        assert done.returncode == 0, done.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(90) == 0
