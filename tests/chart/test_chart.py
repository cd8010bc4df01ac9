"""Offline checks of the Helm chart: lint, render, Kubernetes schemas, CRD schemas, invariants."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from .conftest import (
    CHART,
    CRD_KINDS,
    MONITORING_APIS,
    NAMESPACE,
    RELEASE,
    VARIANT_IDS,
    VARIANTS,
    by_kind,
    one,
    render,
    run,
)

SCHEMAS = Path(__file__).parent / "schemas"


def test_lint_strict(helm):
    run([helm, "lint", "--strict", str(CHART)])
    for values in sorted((CHART / "ci").glob("*.yaml")):
        run([helm, "lint", "--strict", str(CHART), "-f", str(values)])


@pytest.mark.parametrize("values", VARIANTS, ids=VARIANT_IDS)
def test_template_renders_expected_objects(helm, values):
    docs = render(helm, values)
    kinds = {d["kind"] for d in docs}
    for kind in ("StatefulSet", "Service", "Secret", "ConfigMap", "ServiceAccount", "Role", "RoleBinding",
                 "PodDisruptionBudget", "NetworkPolicy", "Pod"):
        assert kind in kinds, f"{kind} missing from the render"
    monitoring_on = values is None or "monitoring-off" not in Path(values).name
    assert ("ServiceMonitor" in kinds) == monitoring_on
    assert ("PrometheusRule" in kinds) == monitoring_on
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), "duplicate objects"


def _kubernetes_versions() -> list[str]:
    kv = pytest.importorskip("kubernetes_validate.utils", reason="kubernetes-validate is not installed "
                             "(scripts/install-chart-tools.sh)")
    return sorted({"1.29.0", kv.latest_version()}, key=lambda v: tuple(int(x) for x in v.split(".")))


@pytest.mark.parametrize("values", VARIANTS, ids=VARIANT_IDS)
def test_manifests_pass_kubernetes_validate_strict(helm, values, tmp_path):
    """Every core manifest validates strictly (unknown fields rejected) for 1.29 and the newest known version."""
    docs = [d for d in render(helm, values) if (d["apiVersion"], d["kind"]) not in CRD_KINDS]
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    for version in _kubernetes_versions():
        proc = run([sys.executable, "-m", "kubernetes_validate", "--strict", "-k", version, str(manifest)], check=False)
        assert proc.returncode == 0, f"kubernetes {version}:\n{proc.stdout}\n{proc.stderr}"
        assert proc.stdout.count("passed for resource") == len(docs), proc.stdout


def test_kubernetes_validate_rejects_unknown_fields(tmp_path):
    """The validator is live: a misspelt field in a StatefulSet fails strict validation."""
    _kubernetes_versions()
    bad = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "x"},
        "spec": {"serviceName": "x", "selector": {"matchLabels": {"a": "b"}}, "podManagmentPolicy": "Parallel",
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
    }
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(bad))
    proc = run([sys.executable, "-m", "kubernetes_validate", "--strict", "-k", "1.29.0", str(f)], check=False)
    assert proc.returncode != 0


@pytest.mark.parametrize("values", VARIANTS, ids=VARIANT_IDS)
def test_monitoring_objects_match_crd_schemas(helm, values):
    docs = render(helm, values)
    for kind, schema_file in (("ServiceMonitor", "servicemonitor-v1.json"), ("PrometheusRule", "prometheusrule-v1.json")):
        schema = json.loads((SCHEMAS / schema_file).read_text())
        for doc in by_kind(docs, kind):
            jsonschema.validate(doc, schema)


def test_crd_schemas_reject_mistakes():
    sm = json.loads((SCHEMAS / "servicemonitor-v1.json").read_text())
    pr = json.loads((SCHEMAS / "prometheusrule-v1.json").read_text())
    bad_sm = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "x"},
              "spec": {"selector": {}, "endpoints": [{"port": "http", "intervall": "15s"}]}}
    bad_pr = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "x"},
              "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "for": "1 minute"}]}]}}
    for doc, schema in ((bad_sm, sm), (bad_pr, pr)):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, schema)


def test_monitoring_objects_skipped_without_crds(helm):
    """A plain cluster (no monitoring.coreos.com API) installs without the CRD objects."""
    proc = run([helm, "template", RELEASE, str(CHART), "-n", NAMESPACE])
    kinds = {d["kind"] for d in yaml.safe_load_all(proc.stdout) if d}
    assert "ServiceMonitor" not in kinds and "PrometheusRule" not in kinds
    assert "ConfigMap" in kinds


@pytest.mark.parametrize("replicas", [2, 4, 0])
def test_even_replica_count_is_rejected_by_schema(helm, replicas):
    proc = run([helm, "template", RELEASE, str(CHART), "--set", f"replicaCount={replicas}"], check=False)
    assert proc.returncode != 0
    assert "replicaCount" in proc.stderr


@pytest.mark.parametrize("replicas", [2, 4])
def test_even_replica_count_is_rejected_by_template(helm, replicas):
    """The template guard holds even when the schema is skipped."""
    proc = run([helm, "template", RELEASE, str(CHART), "--skip-schema-validation", "--set", f"replicaCount={replicas}"],
               check=False)
    assert proc.returncode != 0
    assert "replicaCount must be an odd number" in proc.stderr


def test_statefulset_invariants(helm):
    docs = render(helm)
    sts = one(docs, "StatefulSet")
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["serviceName"] == f"{RELEASE}-taskraft-headless"
    assert {t["metadata"]["name"] for t in spec["volumeClaimTemplates"]} == {"mysql-data", "raft-data"}
    assert pod["terminationGracePeriodSeconds"] >= 20
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]

    (sidecar,) = pod["initContainers"]
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["image"] == "mysql:8.4"
    assert "--bind-address=127.0.0.1" in sidecar["args"]
    assert "startupProbe" in sidecar
    env = {e["name"] for e in sidecar["env"]}
    assert {"MYSQL_ROOT_PASSWORD_FILE", "MYSQL_DATABASE", "MYSQL_USER", "MYSQL_PASSWORD_FILE"} <= env
    mounts = {m["mountPath"] for m in sidecar["volumeMounts"]}
    assert {"/var/lib/mysql", "/var/run/mysqld", "/tmp"} <= mounts

    (app,) = pod["containers"]
    for c in (sidecar, app):
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    assert app["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert app["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "2"]
    annotations = spec["template"]["metadata"]["annotations"]
    assert "checksum/config" in annotations and "checksum/secret" in annotations

    cm = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-env"))["data"]
    assert cm["TASKRAFT_STATEFULSET"] == sts["metadata"]["name"]
    assert cm["TASKRAFT_REPLICAS"] == "3"
    assert cm["TASKRAFT_HEADLESS_SERVICE"] == spec["serviceName"]
    assert cm["TASKRAFT_NAMESPACE"] == NAMESPACE
    assert cm["TASKRAFT_DNS_CACHE_TIME"] == "5"
    assert cm["TASKRAFT_LABEL_POD_ROLE"] == "true"
    assert cm["TASKRAFT_MYSQL_DSN"] == "mysql://taskraft@127.0.0.1:3306/taskraft"
    env = {e["name"]: e for e in app["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["TASKRAFT_NODE_ID"]["value"] == "$(POD_NAME)"


def test_node_config_derives_peers_from_the_rendered_env(helm, monkeypatch):
    """The env the chart renders makes the real config loader produce StatefulSet DNS peers."""
    config = pytest.importorskip("taskraft.config", reason="the taskraft package is not installed")
    docs = render(helm)
    cm = next(d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-env"))["data"]
    for key, value in cm.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POD_NAME", f"{RELEASE}-taskraft-1")
    monkeypatch.setenv("TASKRAFT_NODE_ID", f"{RELEASE}-taskraft-1")
    monkeypatch.delenv("TASKRAFT_RAFT_SECRET_FILE")
    monkeypatch.setenv("TASKRAFT_RAFT_SECRET", "x")
    monkeypatch.delenv("TASKRAFT_MYSQL_PASSWORD_FILE")
    cfg = config.load_config()
    base = f"{RELEASE}-taskraft-headless.{NAMESPACE}.svc.cluster.local:7000"
    assert cfg.peers == tuple(f"{RELEASE}-taskraft-{i}.{base}" for i in range(3))
    assert cfg.raft_advertise == f"{RELEASE}-taskraft-1.{base}"
    assert cfg.timings.dns_cache_time == 5.0
    assert cfg.label_pod_role is True


def test_variants(helm):
    maria = one(render(helm, CHART / "ci" / "mariadb-values.yaml"), "StatefulSet")["spec"]["template"]["spec"]
    (sidecar,) = maria["initContainers"]
    assert sidecar["image"].startswith("mariadb:")
    assert {"MARIADB_ROOT_PASSWORD_FILE", "MARIADB_DATABASE", "MARIADB_USER", "MARIADB_PASSWORD_FILE"} <= {
        e["name"] for e in sidecar["env"]}
    assert sidecar["startupProbe"]["exec"]["command"][0] == "mariadb-admin"
    assert "--mysqlx=OFF" not in sidecar["args"]

    five = render(helm, CHART / "ci" / "five-replicas-values.yaml")
    assert one(five, "StatefulSet")["spec"]["replicas"] == 5
    role = one(five, "Role")
    assert role["rules"][0]["resourceNames"] == [f"{RELEASE}-taskraft-{i}" for i in range(5)]
    rule = one(five, "PrometheusRule")
    quorum = next(r for r in rule["spec"]["groups"][0]["rules"] if r["alert"] == "TaskraftQuorumAtRisk")
    assert quorum["expr"].endswith("< 3")


def test_services_rbac_pdb_networkpolicy(helm):
    docs = render(helm)
    services = {s["metadata"]["name"]: s["spec"] for s in by_kind(docs, "Service")}
    headless = services[f"{RELEASE}-taskraft-headless"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    assert {p["name"] for p in headless["ports"]} == {"raft", "http"}
    assert "publishNotReadyAddresses" not in services[f"{RELEASE}-taskraft"]
    assert services[f"{RELEASE}-taskraft-leader"]["selector"]["taskraft.io/role"] == "leader"

    role = one(docs, "Role")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "patch"],
                              "resourceNames": [f"{RELEASE}-taskraft-{i}" for i in range(3)]}]
    assert one(docs, "RoleBinding")["roleRef"]["name"] == role["metadata"]["name"]
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1

    np = one(docs, "NetworkPolicy")["spec"]
    raft_rule = next(r for r in np["ingress"] if r["ports"][0]["port"] == 7000)
    assert raft_rule["from"] == [{"podSelector": {"matchLabels": np["podSelector"]["matchLabels"]}}]
    http_rule = next(r for r in np["ingress"] if r["ports"][0]["port"] == 8080)
    assert "from" not in http_rule  # allowExternal: true by default
    closed = render(helm, None, "--set", "networkPolicy.http.allowExternal=false")
    http_rule = next(r for r in one(closed, "NetworkPolicy")["spec"]["ingress"] if r["ports"][0]["port"] == 8080)
    assert {"podSelector": {"matchLabels": {f"{RELEASE}-taskraft-client": "true"}}} in http_rule["from"]


def test_secret_generated_or_existing(helm):
    secret = one(render(helm), "Secret")
    assert set(secret["data"]) == {"mysql-root-password", "mysql-password", "raft-secret"}
    assert all(secret["data"].values())
    docs = render(helm, None, "--set", "auth.existingSecret=mine")
    assert not by_kind(docs, "Secret")
    vols = one(docs, "StatefulSet")["spec"]["template"]["spec"]["volumes"]
    assert {v["secret"]["secretName"] for v in vols if "secret" in v} == {"mine"}


def test_helm_test_pod(helm):
    pod = one(render(helm), "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][-1]
    for step in ('"POST"', '"GET"', '"DELETE"'):
        assert step in script
    compile(script, "helm-test", "exec")


def test_dashboard_configmap(helm):
    cm = next(d for d in by_kind(render(helm), "ConfigMap") if d["metadata"]["name"].endswith("-dashboard"))
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dash = json.loads(cm["data"]["taskraft.json"])
    titles = {p["title"] for p in dash["panels"]}
    for needed in ("Role per pod", "Raft term", "Commit index vs applied index", "Leader changes", "Write rate",
                   "Read rate", "Write latency", "Read latency", "Apply latency", "Errors by code"):
        assert needed in titles
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    for metric in ("raft_state", "raft_term", "raft_commit_index", "raft_last_applied", "raft_leader_changes_total",
                   "http_request_duration_seconds_bucket", "raft_apply_duration_seconds_bucket",
                   "taskraft_http_errors_total"):
        assert metric in exprs


def test_values_documented():
    """Every value is documented by a `# --` comment (helm-docs) on itself or on an enclosing block."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    undocumented = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("-") or ":" not in stripped:
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        j = i - 1
        while j >= 0 and lines[j].strip().startswith("#") and not lines[j].strip().startswith("# --"):
            j -= 1
        own = j >= 0 and lines[j].strip().startswith("# --") and j < i
        documented = own or any(d for _, d in stack)
        key, _, rest = stripped.partition(":")
        nxt = next((ln for ln in lines[i + 1:] if ln.strip() and not ln.strip().startswith("#")), "")
        is_block = rest.strip() == "" and len(nxt) - len(nxt.lstrip()) > indent
        if not is_block and not documented:
            undocumented.append(key)
        stack.append((indent, documented))
    assert not undocumented, f"values without a '# --' comment: {undocumented}"
