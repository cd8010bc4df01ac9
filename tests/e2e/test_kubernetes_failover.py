"""End-to-end failover tests on a real Kubernetes cluster (the one KUBECONFIG points at, e.g. kind).

They install the chart into a fresh namespace with the image given by TASKRAFT_E2E_IMAGE (default
taskraft:<version>, already loaded into the cluster: `deploy/kind/up.sh` or `kind load docker-image`),
and reach the service through the API server's port-forward, a connection per request to a ready
endpoint of the Service or to a given pod (release_http.py says why not its proxies), so no
`kubectl port-forward` is needed. Every API call sends the admin token the chart generated, read from
its Secret. With TASKRAFT_E2E_NODE_PORT (e.g. 30080) the client Service is that node port, and with
TASKRAFT_E2E_NODE_URL (e.g. http://localhost:8080, where deploy/kind/cluster.yaml publishes 30080) the
tests also reach the API there, from outside the cluster, while pods go.
Without a reachable cluster, or without helm, the whole module is skipped with one reason.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from .release_http import Http, read_admin_token

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "taskraft"
RELEASE = "taskraft"
REPLICAS = 3
TASKS = int(os.environ.get("TASKRAFT_E2E_TASKS", "30"))
MAX_WRITE_GAP = float(os.environ.get("TASKRAFT_E2E_MAX_WRITE_GAP", "30"))
NODE_PORT = os.environ.get("TASKRAFT_E2E_NODE_PORT", "")
NODE_URL = os.environ.get("TASKRAFT_E2E_NODE_URL", "").rstrip("/")
ROLE_LABEL = "taskraft.io/role"
CLUSTER_RECORD = f"{RELEASE}-cluster"  # written by the leader when the cluster forms, owned by the StatefulSet
AUTH_SECRET = f"{RELEASE}-auth"  # the chart's Secret: passwords, the Raft secret and the admin token
SERVER_SELECTOR = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=server"


def _version() -> str:
    for line in (REPO / "pyproject.toml").read_text().splitlines():
        if line.startswith("version = "):
            return line.split('"')[1]
    return "latest"


def _cluster_or_skip():
    """Returns a CoreV1Api bound to a reachable cluster, or skips the module with one reason."""
    try:
        from kubernetes import client, config
    except ImportError:
        pytest.skip(
            "kind e2e suite: the kubernetes Python client is not installed (pip install -e .)", allow_module_level=True
        )
    try:
        config.load_kube_config()
    except Exception:
        try:
            config.load_incluster_config()
        except Exception:
            pytest.skip(
                "kind e2e suite: needs a real Kubernetes cluster and none is configured; run deploy/kind/up.sh "
                "and set KUBECONFIG to run it",
                allow_module_level=True,
            )
    try:
        client.VersionApi().get_code(_request_timeout=5)
    except Exception as exc:
        pytest.skip(
            f"kind e2e suite: needs a real Kubernetes cluster; the API server in KUBECONFIG is not "
            f"reachable ({type(exc).__name__})",
            allow_module_level=True,
        )
    helm = os.environ.get("HELM") or shutil.which("helm")
    if not helm:
        pytest.skip(
            "kind e2e suite: a Kubernetes cluster is reachable but helm is not installed (scripts/install-helm.sh)",
            allow_module_level=True,
        )
    return client, helm


k8s, HELM = _cluster_or_skip()
from kubernetes.client.rest import ApiException  # noqa: E402  (only once a cluster is known)

core = k8s.CoreV1Api()
apps = k8s.AppsV1Api()
discovery = k8s.DiscoveryV1Api()


def wait_for(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except ApiException as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def helm(*args: str, timeout: int = 900) -> str:
    proc = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def server_pods(ns: str):
    return core.list_namespaced_pod(ns, label_selector=SERVER_SELECTOR).items


def is_ready(pod) -> bool:
    return pod.status.phase == "Running" and any(
        c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or [])
    )


def leader_pods(ns: str):
    return core.list_namespaced_pod(ns, label_selector=f"{SERVER_SELECTOR},{ROLE_LABEL}=leader").items


def all_ready(ns: str) -> bool:
    pods = server_pods(ns)
    return len(pods) == REPLICAS and all(is_ready(p) for p in pods)


@pytest.fixture(scope="module", name="release")
def release_fixture():
    ns = f"taskraft-e2e-{uuid.uuid4().hex[:6]}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=ns)))
    image = os.environ.get("TASKRAFT_E2E_IMAGE", f"taskraft:{_version()}")
    repo, _, tag = image.rpartition(":")
    try:
        sets = {
            "image.repository": repo,
            "image.tag": tag,
            "image.pullPolicy": os.environ.get("TASKRAFT_E2E_PULL_POLICY", "IfNotPresent"),
            "replicaCount": REPLICAS,
        }
        if NODE_PORT:
            sets.update({"service.type": "NodePort", "service.nodePort": NODE_PORT})
        values = ["-f", os.environ["TASKRAFT_E2E_VALUES"]] if os.environ.get("TASKRAFT_E2E_VALUES") else []
        options = [word for key, value in sets.items() for word in ("--set", f"{key}={value}")]
        helm("install", RELEASE, str(CHART), "--namespace", ns, *options, *values)
        wait_for(lambda: all_ready(ns), 600, "every member ready", interval=3)
        wait_for(lambda: len(leader_pods(ns)) == 1, 60, "one pod labelled leader")
        token = read_admin_token(core, ns, AUTH_SECRET)
        yield {"ns": ns, "http": Http(discovery, ns, token, RELEASE), "tasks": {}}
    finally:
        if os.environ.get("TASKRAFT_E2E_KEEP") != "1":
            subprocess.run([HELM, "uninstall", RELEASE, "-n", ns, "--wait"], capture_output=True, timeout=300)
            core.delete_namespace(ns)


def answered(status: int, call):
    """A predicate for wait_for: the (status, body) of call() when it answered `status`, else None."""
    return lambda: (lambda r: r if r[0] == status else None)(call())


def test_the_api_needs_the_admin_token_from_the_secret(release):
    """401 without a token or with a wrong one; the Secret's admin token acts as the user admin; the pods get
    it as a file of the Secret, not as an environment value."""
    ns, http = release["ns"], release["http"]
    status, who = wait_for(answered(200, lambda: http.call("GET", RELEASE, "/api/v1/whoami")), 60, "whoami")
    assert (who["auth"], who["username"], who["role"]) == ("on", "admin", "admin")
    for token in (None, "trk_not-a-token-of-this-cluster"):
        status, body = wait_for(
            lambda t=token: (lambda r: r if r[0] is not None else None)(
                http.call("GET", RELEASE, "/api/v1/tasks", token=t)
            ),
            60,
            "an answer",
        )
        assert status == 401 and body["error"]["code"] == "unauthenticated", (token, status, body)
    assert http.call("GET", RELEASE, "/healthz", token=None)[0] == 200  # open
    pod = apps.read_namespaced_stateful_set(RELEASE, ns).spec.template.spec
    (app,) = [c for c in pod.containers if c.name == "taskraft"]
    assert "TASKRAFT_ADMIN_TOKEN" not in {e.name for e in app.env or []}
    env = core.read_namespaced_config_map(f"{RELEASE}-env", ns).data
    assert env["TASKRAFT_AUTH"] == "on" and env["TASKRAFT_ADMIN_TOKEN_FILE"].startswith("/etc/taskraft/secret/")


def test_write_tasks(release):
    http = release["http"]
    for i in range(TASKS):
        title = f"e2e task {i}"
        status, task = wait_for(answered(201, lambda t=title: http.create(t)), 60, f"task {i} written")
        release["tasks"][task["id"]] = task["title"]
    assert len(release["tasks"]) == TASKS


def _node_port_get(http: Http, path: str, timeout: float = 5):
    """(status, body, answering pod) of GET NODE_URL+path with the admin token, on a new connection each time;
    (None, error, None) when it fails."""
    try:
        resp = requests.get(f"{NODE_URL}{path}", timeout=timeout, headers={**http.headers(), "Connection": "close"})
        return resp.status_code, (resp.json() if resp.content else None), resp.headers.get("X-Taskraft-Node")
    except (requests.RequestException, ValueError) as exc:
        return None, repr(exc), None


def test_the_node_port_serves_the_api_while_a_member_goes(release):
    """From outside the cluster through the node port (kind: localhost:8080): a write there is read through
    the API server, and reads keep being answered while a member's pod is deleted and comes back."""
    if not NODE_URL:
        pytest.skip("TASKRAFT_E2E_NODE_URL is not set (the workflow sets it for deploy/kind/cluster.yaml's mapping)")
    ns, http = release["ns"], release["http"]
    svc = core.read_namespaced_service(RELEASE, ns)
    assert svc.spec.type == "NodePort" and [p.node_port for p in svc.spec.ports] == [int(NODE_PORT)]
    status, view, answering = wait_for(
        answered(200, lambda: _node_port_get(http, "/api/v1/cluster")), 60, f"{NODE_URL}/api/v1/cluster"
    )
    assert answering in {p.metadata.name for p in server_pods(ns)}
    assert requests.get(f"{NODE_URL}/api/v1/cluster", timeout=10).status_code == 401  # no token
    resp = requests.post(
        f"{NODE_URL}/api/v1/tasks", json={"title": "through the node port"}, headers=http.headers(), timeout=10
    )
    assert resp.status_code == 201, resp.text
    task = resp.json()
    release["tasks"][task["id"]] = task["title"]
    status, got = wait_for(answered(200, lambda: http.get(task["id"])), 60, "the task through a port-forward")
    assert got["title"] == "through the node port"

    leader = leader_pods(ns)[0].metadata.name
    follower = next(p for p in server_pods(ns) if p.metadata.name != leader)
    answers: list[tuple[float, str]] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            status, body, node = _node_port_get(http, f"/api/v1/tasks/{task['id']}")
            if status == 200 and body["title"] == task["title"]:
                answers.append((time.monotonic(), node))
            time.sleep(0.2)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    wait_for(lambda: len(answers) >= 5, 30, "reads through the node port", interval=0.2)
    deleted_at = time.monotonic()
    core.delete_namespaced_pod(follower.metadata.name, ns)
    wait_for(
        lambda: any(
            p.metadata.name == follower.metadata.name and p.metadata.uid != follower.metadata.uid
            for p in server_pods(ns)
        ),
        300,
        "the follower's pod recreated",
    )
    wait_for(lambda: all_ready(ns), 600, "every member ready again", interval=3)
    wait_for(lambda: len([t for t, _ in answers if t > deleted_at]) >= 10, 60, "reads after the deletion", interval=0.2)
    stop.set()
    thread.join(30)
    times = [t for t, _ in answers if t >= deleted_at - 5]
    gap = max((b - a for a, b in itertools.pairwise(times)), default=0.0)
    print(
        f"\nlongest gap between reads through {NODE_URL} while {follower.metadata.name} went: {gap:.2f}s; "
        f"answered by {sorted({str(n) for _, n in answers})}"
    )
    assert gap < MAX_WRITE_GAP, f"the node port did not answer for {gap:.1f}s"


def _cluster_view(http: Http) -> dict:
    status, view = wait_for(answered(200, lambda: http.call("GET", RELEASE, "/api/v1/cluster")), 60, "cluster view")
    return view


def _term(view: dict) -> int:
    return int(view.get("term") or view.get("raft", {}).get("term") or 0)


def _pod_view(http: Http, pod: str) -> dict | None:
    status, view = http.call("GET", f"pod/{pod}", "/api/v1/cluster")
    return view if status == 200 else None


def _cluster_record(ns: str):
    try:
        return core.read_namespaced_config_map(CLUSTER_RECORD, ns)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def test_the_cluster_record_names_the_cluster(release):
    """The leader recorded the cluster id in a ConfigMap owned by the StatefulSet; every member reports it."""
    ns, http = release["ns"], release["http"]
    record = wait_for(lambda: _cluster_record(ns), 60, f"ConfigMap {CLUSTER_RECORD}")
    cluster_id = record.data["clusterId"]
    sts = apps.read_namespaced_stateful_set(RELEASE, ns)
    (owner,) = record.metadata.owner_references
    assert (owner.kind, owner.name, owner.uid) == ("StatefulSet", RELEASE, sts.metadata.uid)
    for pod in server_pods(ns):
        name = pod.metadata.name
        view = wait_for(lambda name=name: _pod_view(http, name), 60, f"cluster view of {name}")
        assert view["cluster_id"] == cluster_id, pod.metadata.name
        assert view["voting"]["can_vote"] is True, pod.metadata.name
    release["cluster_id"] = cluster_id


def test_leader_deletion_fails_over(release):
    ns, http = release["ns"], release["http"]
    (old_leader,) = leader_pods(ns)
    term_before = _term(_cluster_view(http))

    successes: list[float] = []
    failures: list[tuple[float, object]] = []
    stop = threading.Event()

    def writer():
        n = 0
        while not stop.is_set():
            status, task = http.create(f"failover write {n}")
            now = time.monotonic()
            if status == 201:
                successes.append(now)
                release["tasks"][task["id"]] = task["title"]
                n += 1
            else:
                failures.append((now, status))
                time.sleep(0.1)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    wait_for(lambda: len(successes) >= 5, 30, "writes before the deletion", interval=0.2)
    deleted_at = time.monotonic()
    core.delete_namespaced_pod(old_leader.metadata.name, ns)

    new_leader = wait_for(
        lambda: next((p for p in leader_pods(ns) if p.metadata.uid != old_leader.metadata.uid), None),
        120,
        "the leader label on another pod",
    )
    wait_for(
        lambda: any(t > deleted_at for t in successes) and len([t for t in successes if t > deleted_at]) >= 10,
        120,
        "writes succeeding after the failover",
        interval=0.2,
    )
    stop.set()
    thread.join(30)

    around = [t for t in successes if t >= deleted_at - 5]
    gaps = [b - a for a, b in itertools.pairwise(around)]
    window = max(gaps) if gaps else 0.0
    print(
        f"\nwrite-unavailability window after deleting leader {old_leader.metadata.name}: {window:.2f}s "
        f"({len(failures)} failed attempts); new leader {new_leader.metadata.name}"
    )
    assert window < MAX_WRITE_GAP, f"writes were unavailable for {window:.1f}s"
    assert new_leader.metadata.uid != old_leader.metadata.uid

    # the deleted pod comes back under the same name and rejoins
    wait_for(lambda: all_ready(ns), 600, "the deleted pod back and ready", interval=3)
    assert len(leader_pods(ns)) == 1
    assert _term(_cluster_view(http)) > term_before

    # every acknowledged task is present, through the service and on the returned pod's own database
    for task_id, title in release["tasks"].items():
        status, got = wait_for(answered(200, lambda t=task_id: http.get(t)), 60, f"task {task_id}")
        assert got["title"] == title
    returned = f"pod/{old_leader.metadata.name}"
    for task_id in release["tasks"]:
        wait_for(
            lambda t=task_id: http.get(t, target=returned, local=True)[0] == 200,
            120,
            f"task {task_id} applied on the returned pod",
        )


def test_follower_rebuilds_after_losing_its_volumes(release):
    ns, http = release["ns"], release["http"]
    leader = leader_pods(ns)[0].metadata.name
    follower = next(p for p in server_pods(ns) if p.metadata.name != leader)
    name, uid = follower.metadata.name, follower.metadata.uid
    claims = [f"mysql-data-{name}", f"raft-data-{name}"]
    for claim in claims:
        core.delete_namespaced_persistent_volume_claim(claim, ns)  # held by the pod until it goes
    core.delete_namespaced_pod(name, ns)

    def claims_replaced():
        found = {c.metadata.name: c for c in core.list_namespaced_persistent_volume_claim(ns).items}
        return all(c in found and found[c].metadata.deletion_timestamp is None for c in claims)

    wait_for(
        lambda: any(p.metadata.name == name and p.metadata.uid != uid for p in server_pods(ns)),
        300,
        "the follower pod recreated",
    )
    wait_for(claims_replaced, 300, "fresh claims for the follower")
    wait_for(lambda: all_ready(ns), 600, "the rebuilt follower ready", interval=3)

    # It started with an empty Raft volume while the cluster record existed (TASKRAFT_CLUSTER_ID, from the
    # ConfigMap): it withheld its vote until the leader caught it up, and now votes again, in the same cluster.
    log = core.read_namespaced_pod_log(name, ns, container="taskraft")
    assert "lost its Raft state and the cluster record" in log, "the rebuilt member did not learn from the record"
    view = wait_for(
        lambda: (lambda v: v if v and v["voting"]["can_vote"] else None)(_pod_view(http, name)),
        120,
        "the rebuilt follower voting again",
    )
    cluster_id = release.get("cluster_id") or _cluster_record(ns).data["clusterId"]
    assert view["cluster_id"] == cluster_id
    assert view["voting"] == {"can_vote": True, "reason": None}

    status, task = wait_for(answered(201, lambda: http.create("after rebuild")), 60, "a write")
    release["tasks"][task["id"]] = task["title"]
    for task_id, title in release["tasks"].items():
        status, got = wait_for(
            answered(200, lambda t=task_id: http.get(t, target=f"pod/{name}", local=True)),
            300,
            f"task {task_id} on the rebuilt follower",
        )
        assert got["title"] == title


def _rolled_out(ns: str, before: dict[str, str]) -> bool:
    """Every pod replaced since `before` (name -> uid), ready, and the StatefulSet at its new revision."""
    sts = apps.read_namespaced_stateful_set(RELEASE, ns)
    st = sts.status
    pods = server_pods(ns)
    return (
        st.observed_generation == sts.metadata.generation
        and st.update_revision == st.current_revision
        and st.updated_replicas == REPLICAS
        and len(pods) == REPLICAS
        and all(is_ready(p) and p.metadata.uid != before.get(p.metadata.name) for p in pods)
    )


def test_a_plain_upgrade_keeps_the_secret_and_restarts_no_pod(release):
    """`helm upgrade --reuse-values` with nothing changed: the chart looks its Secret up and keeps it (passwords,
    Raft secret, admin token), so the pod template, its checksum annotations included, stays as it was."""
    ns, http = release["ns"], release["http"]
    sts = apps.read_namespaced_stateful_set(RELEASE, ns)
    pods = {p.metadata.name: p.metadata.uid for p in server_pods(ns)}
    data = core.read_namespaced_secret(AUTH_SECRET, ns).data
    helm("upgrade", RELEASE, str(CHART), "-n", ns, "--reuse-values", "--wait", "--timeout", "5m")
    after = apps.read_namespaced_stateful_set(RELEASE, ns)
    assert after.spec.template.metadata.annotations == sts.spec.template.metadata.annotations
    assert (after.metadata.generation, after.status.update_revision) == (
        sts.metadata.generation,
        sts.status.update_revision,
    )
    assert core.read_namespaced_secret(AUTH_SECRET, ns).data == data
    assert {p.metadata.name: p.metadata.uid for p in server_pods(ns)} == pods
    wait_for(answered(200, lambda: http.call("GET", RELEASE, "/api/v1/whoami")), 60, "whoami with the same token")


def test_helm_upgrade_changes_values_and_keeps_the_data(release):
    """`helm upgrade --reuse-values` with a new label on every object and a new memory limit: the pods roll
    one at a time onto the same claims, the change is in effect, and every task written before is there."""
    ns, http = release["ns"], release["http"]
    token = uuid.uuid4().hex[:8]
    pods_before = {p.metadata.name: p.metadata.uid for p in server_pods(ns)}
    claims_before = {c.metadata.name: c.metadata.uid for c in core.list_namespaced_persistent_volume_claim(ns).items}
    record_before = _cluster_record(ns).data["clusterId"]
    revision = json.loads(helm("status", RELEASE, "-n", ns, "-o", "json"))["version"]

    helm(
        "upgrade",
        RELEASE,
        str(CHART),
        "-n",
        ns,
        "--reuse-values",
        "--set-string",
        f"commonLabels.e2e-upgrade={token}",
        "--set",
        "resources.limits.memory=640Mi",
        "--wait",
        "--timeout",
        "15m",
    )
    wait_for(lambda: _rolled_out(ns, pods_before), 900, "the upgrade rolled out", interval=3)
    wait_for(lambda: len(leader_pods(ns)) == 1, 120, "one pod labelled leader")

    assert json.loads(helm("status", RELEASE, "-n", ns, "-o", "json"))["version"] == revision + 1
    # in effect: the label on the objects and the pods, the limit on every taskraft container
    assert apps.read_namespaced_stateful_set(RELEASE, ns).metadata.labels["e2e-upgrade"] == token
    assert core.read_namespaced_service(RELEASE, ns).metadata.labels["e2e-upgrade"] == token
    for pod in server_pods(ns):
        assert pod.metadata.labels["e2e-upgrade"] == token, pod.metadata.name
        (container,) = [c for c in pod.spec.containers if c.name == "taskraft"]
        assert container.resources.limits["memory"] == "640Mi", pod.metadata.name
    # the same claims (not recreated), the same cluster, every task on every member
    claims = {c.metadata.name: c.metadata.uid for c in core.list_namespaced_persistent_volume_claim(ns).items}
    assert claims == claims_before
    # the Secret looked up and kept: the same admin token, which every call below still sends
    assert read_admin_token(core, ns, AUTH_SECRET) == http.token
    assert _cluster_record(ns).data["clusterId"] == record_before
    for pod in server_pods(ns):
        target = f"pod/{pod.metadata.name}"
        for task_id, title in release["tasks"].items():
            status, got = wait_for(
                answered(200, lambda t=task_id, p=target: http.get(t, target=p, local=True)),
                120,
                f"task {task_id} on {pod.metadata.name} after the upgrade",
            )
            assert got["title"] == title
    status, task = wait_for(answered(201, lambda: http.create("after the upgrade")), 60, "a write after the upgrade")
    release["tasks"][task["id"]] = task["title"]
    if NODE_URL:  # --reuse-values kept the node port
        status, got, _ = wait_for(
            answered(200, lambda: _node_port_get(http, f"/api/v1/tasks/{task['id']}")),
            60,
            "the new task through the node port",
        )
        assert got["title"] == "after the upgrade"


def test_helm_test_passes(release):
    helm("test", RELEASE, "-n", release["ns"], "--timeout", "5m", "--logs")


def test_uninstall_leaves_only_the_claims(release):
    ns = release["ns"]
    helm("uninstall", RELEASE, "-n", ns, "--wait", "--timeout", "5m")
    wait_for(lambda: not server_pods(ns), 300, "the pods gone")
    # Not a chart object: the garbage collector deletes it after its owner, the StatefulSet.
    wait_for(lambda: _cluster_record(ns) is None, 120, f"ConfigMap {CLUSTER_RECORD} deleted with the StatefulSet")
    leftovers = []
    label = f"app.kubernetes.io/instance={RELEASE}"
    listings = {
        "statefulset": apps.list_namespaced_stateful_set(ns).items,
        "service": core.list_namespaced_service(ns).items,
        "configmap": [c for c in core.list_namespaced_config_map(ns).items if c.metadata.name != "kube-root-ca.crt"],
        "secret": [s for s in core.list_namespaced_secret(ns).items if s.type != "kubernetes.io/service-account-token"],
        "serviceaccount": [s for s in core.list_namespaced_service_account(ns).items if s.metadata.name != "default"],
        "role": k8s.RbacAuthorizationV1Api().list_namespaced_role(ns).items,
        "rolebinding": k8s.RbacAuthorizationV1Api().list_namespaced_role_binding(ns).items,
        "poddisruptionbudget": k8s.PolicyV1Api().list_namespaced_pod_disruption_budget(ns).items,
        "networkpolicy": k8s.NetworkingV1Api().list_namespaced_network_policy(ns).items,
        "pod": core.list_namespaced_pod(ns, label_selector=label).items,
    }
    for kind, items in listings.items():
        leftovers += [f"{kind}/{i.metadata.name}" for i in items]
    assert not leftovers, f"left behind after uninstall: {leftovers}"
    claims = {c.metadata.name for c in core.list_namespaced_persistent_volume_claim(ns).items}
    expected = {f"{vol}-{RELEASE}-{i}" for vol in ("mysql-data", "raft-data") for i in range(REPLICAS)}
    assert claims == expected
